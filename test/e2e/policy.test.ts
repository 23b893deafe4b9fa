/**
 * Issue 14 through the real bridge (embedded sandbox) and the reference servers: a TOML policy file,
 * refusals as mcp.PolicyError, discovery showing each tool's policy, approval through MCP
 * elicitation answered by the SDK client (accept, decline, cancel, and a client without
 * elicitation), budgets, rate limits, tokenized results restored for an allowed server, the audit
 * log and its command, and a malformed policy served as the configuration error.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ElicitRequest, ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hasHiddenCharacters } from '../../src/shared/visible-text.js';
import { type RunningBridge, startBridge } from '../helpers/bridge.js';
import { BRIDGE_MAIN } from '../helpers/environment.js';
import { createTestHome, serverEntry, type TestHome } from '../helpers/upstreams.js';

const FS_SECRET = 'fs-s3cret-token-8812';
const stateDir = mkdtempSync(join(tmpdir(), 'codemode-policy-'));

const POLICY = `
# Reads are fine, writes ask, moving is never allowed.
[servers.filesystem]
destructive = "ask"
deny = ["move_file"]

[servers.memory]
read_only = true

[servers.everything]
rate_limit = { calls = 3, per_seconds = 600 }
allow = ["echo"]

[budget]
tool_calls = 12

[tokenize]
detect = ["email"]
from = ["filesystem"]
restore_to = ["filesystem.write_file", "echoer.echo"]
`;

/** Audit lines one run may write in these tests (the default is 1000). */
const AUDIT_RUN_LINES = 40;

afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

function configure(home: TestHome): { files: string; policy: string; audit: string } {
  const files = join(home.home, 'files');
  home.write('files/contacts.txt', 'Ada Lovelace <ada@example.com>\n');
  home.write('files/others.txt', 'Bob Smith <bob@example.org>\n');
  home.write('.claude.json', {
    mcpServers: {
      filesystem: {
        command: process.execPath,
        args: [serverEntry('server-filesystem'), files],
        env: { FS_API_TOKEN: FS_SECRET },
      },
      memory: {
        command: process.execPath,
        args: [serverEntry('server-memory')],
        env: { MEMORY_FILE_PATH: join(home.home, 'memory.jsonl') },
      },
      everything: {
        command: process.execPath,
        args: [serverEntry('server-everything')],
        // A config entry's own block adds rules for its server.
        policy: { deny: ['get-env'] },
      },
      // The same server again, without a rate limit: a tool restore_to names and `from` does not.
      echoer: { command: process.execPath, args: [serverEntry('server-everything')] },
    },
  });
  return { files, policy: home.write('policy.toml', POLICY), audit: join(home.home, 'audit', 'audit.jsonl') };
}

describe('policy, approval and audit (embedded sandbox)', () => {
  let home: TestHome;
  let paths: ReturnType<typeof configure>;
  let bridge: RunningBridge;
  const prompts: ElicitRequest['params'][] = [];
  let answer: ElicitResult = { action: 'accept' };
  /** Never answer (the user walked away). */
  let hang = false;

  async function run(lines: string[], servers: string[] = ['filesystem']) {
    const result = await bridge.runPython({ code: lines.join('\n'), servers, timeout: 60 });
    expect(result.structured, result.text).toMatchObject({ status: 'ok', stderr: '' });
    return result.structured.stdout;
  }

  beforeAll(async () => {
    home = createTestHome();
    paths = configure(home);
    bridge = await startBridge(
      {
        HOME: home.home,
        MCP_BRIDGE_RUNTIME: 'embedded',
        MCP_BRIDGE_STATE_DIR: stateDir,
        MCP_BRIDGE_POLICY: paths.policy,
        MCP_BRIDGE_AUDIT_LOG: paths.audit,
        MCP_BRIDGE_AUDIT_RUN_LINES: String(AUDIT_RUN_LINES),
      },
      {
        cwd: home.project,
        elicit: (params) => {
          prompts.push(params);
          return hang ? new Promise<ElicitResult>(() => {}) : answer;
        },
      },
    );
    expect((await bridge.runPython({ code: 'print("warm")', timeout: 120 })).text).toBe('warm');
  }, 300_000);
  afterAll(async () => {
    await bridge?.close();
    home?.cleanup();
  });
  beforeEach(() => {
    prompts.length = 0;
    answer = { action: 'accept' };
    hang = false;
  });

  it('tells the model about the policy and shows each tool’s policy in discovery', async () => {
    const { tools } = await bridge.client.listTools();
    expect(tools[0]?.description).toContain('mcp.PolicyError');
    const stdout = await run([
      'import mcp.runtime as rt',
      'docs = {d["tool"]: d["policy"] for d in await rt.query_tool_docs("filesystem")}',
      'print(docs["read_text_file"]["action"], docs["write_file"]["action"], docs["write_file"]["rule"])',
      'print(docs["move_file"]["action"], docs["move_file"]["rule"])',
      'print(docs["create_directory"]["action"])',
      'print([t["policy"] for t in await rt.list_tools("memory") if t["name"] in ("read_graph", "create_entities")])',
      'hits = await rt.search_tool_docs("write a file", limit=3)',
      'print(any(h.get("policy", {}).get("action") == "ask" for h in hits))',
      'print("Policy: ask" in mcp_filesystem.write_file.__doc__)',
    ]);
    expect(stdout.split('\n')).toEqual([
      'allow ask servers.filesystem.destructive',
      'deny servers.filesystem.deny["move_file"]',
      'allow',
      "['deny', 'allow']",
      'True',
      'True',
      '',
    ]);
  });

  it('the server resource marks tools the policy does not simply allow', async () => {
    const resource = await bridge.client.readResource({ uri: 'codemode://servers/filesystem' });
    const text = String((resource.contents[0] as { text?: string }).text);
    expect(text).toMatch(/^- write_file \[policy: ask\]/m);
    expect(text).toMatch(/^- move_file \[policy: deny\]/m);
    expect(text).toMatch(/^- read_text_file — /m);
  });

  it('refuses denied tools with mcp.PolicyError naming the rule; nothing happens upstream', async () => {
    const stdout = await run(
      [
        'import mcp',
        'try:',
        '    await mcp_filesystem.move_file(source="contacts.txt", destination="moved.txt")',
        'except mcp.PolicyError as error:',
        '    print(type(error).__name__, isinstance(error, mcp.ToolError), error.code, error.rule)',
        'try:',
        '    await mcp_memory.create_entities(entities=[])',
        'except mcp.PolicyError as error:',
        '    print(error.rule)',
        'print(type(await mcp_memory.read_graph()).__name__)',
      ],
      ['filesystem', 'memory'],
    );
    expect(stdout).toBe(
      'PolicyError True POLICY_DENIED servers.filesystem.deny["move_file"]\nservers.memory.read_only\ndict\n',
    );
    expect(existsSync(join(paths.files, 'contacts.txt'))).toBe(true);
    expect(existsSync(join(paths.files, 'moved.txt'))).toBe(false);
  });

  it("applies a config entry's policy block", async () => {
    const stdout = await run(
      [
        'import mcp',
        'try:',
        '    await mcp_everything.get_env()',
        'except mcp.PolicyError as error:',
        '    print(error.rule)',
      ],
      ['everything'],
    );
    expect(stdout).toBe('everything.policy.deny["get-env"]\n');
  });

  it('an unanswered approval ends with the run’s deadline', async () => {
    hang = true;
    const result = await bridge.runPython({
      code: `await mcp_filesystem.write_file(path=${JSON.stringify(join(paths.files, 'late.txt'))}, content="x")`,
      servers: ['filesystem'],
      // Long enough for the call to reach the prompt on a loaded machine; the wait then ends with it.
      timeout: 15,
    });
    expect(result.structured.status).toBe('timeout');
    expect(prompts).toHaveLength(1);
    expect(existsSync(join(paths.files, 'late.txt'))).toBe(false);
  });

  it('asks through elicitation with the arguments redacted, and writes once accepted', async () => {
    const stdout = await run([
      `await mcp_filesystem.write_file(path=${JSON.stringify(join(paths.files, 'a.txt'))}, content="token ${FS_SECRET} ok")`,
      'print("written")',
    ]);
    expect(stdout).toBe('written\n');
    expect(readFileSync(join(paths.files, 'a.txt'), 'utf8')).toBe(`token ${FS_SECRET} ok`);
    expect(prompts).toHaveLength(1);
    const message = String(prompts[0]?.message);
    expect(message).toContain("write_file on the MCP server 'filesystem'");
    expect(message).toContain('servers.filesystem.destructive');
    expect(message).toContain('token [redacted] ok');
    expect(message).not.toContain(FS_SECRET);
  });

  it('raises PolicyError when the user declines or cancels, and does not write', async () => {
    for (const action of ['decline', 'cancel'] as const) {
      answer = { action };
      const stdout = await run([
        'import mcp',
        'try:',
        `    await mcp_filesystem.write_file(path=${JSON.stringify(join(paths.files, `${action}.txt`))}, content="x")`,
        'except mcp.PolicyError as error:',
        '    print(error.code, error.rule, str(error).split(":")[0])',
      ]);
      expect(stdout).toBe(
        "POLICY_DECLINED servers.filesystem.destructive filesystem.write_file needs the user's approval, and the user " +
          `${action === 'decline' ? 'declined it. [rule' : 'dismissed the request; the call was not made. [rule'}\n`,
      );
      expect(existsSync(join(paths.files, `${action}.txt`))).toBe(false);
    }
  });

  it('asks once for a loop when the user allows the tool for the rest of the run', async () => {
    answer = { action: 'accept', content: { remember: true } };
    await run([
      'for i in range(3):',
      `    await mcp_filesystem.write_file(path=${JSON.stringify(paths.files)} + f"/loop{i}.txt", content=str(i))`,
    ]);
    expect(prompts).toHaveLength(1);
    expect(readFileSync(join(paths.files, 'loop2.txt'), 'utf8')).toBe('2');
  });

  it('spends the run’s call budget and the server’s rate limit', async () => {
    const stdout = await run([
      'import mcp',
      'n = 0',
      'try:',
      '    while True:',
      '        await mcp_filesystem.list_allowed_directories()',
      '        n += 1',
      'except mcp.PolicyError as error:',
      '    print(n, error.code, error.rule)',
    ]);
    expect(stdout).toBe('12 POLICY_BUDGET budget.tool_calls\n');
    const limited = await run(
      [
        'import mcp',
        'for i in range(4):',
        '    try:',
        '        await mcp_everything.echo(message=str(i))',
        '        print("ok")',
        '    except mcp.PolicyError as error:',
        '        print(error.code, error.rule)',
      ],
      ['everything'],
    );
    expect(limited).toBe('ok\nok\nok\nPOLICY_RATE_LIMIT servers.everything.rate_limit\n');
  });

  it('tokenizes sensitive values in results and restores them for an allowed tool', async () => {
    const stdout = await run([
      `text = await mcp_filesystem.read_text_file(path=${JSON.stringify(join(paths.files, 'contacts.txt'))})`,
      'print(text)',
      `_ = await mcp_filesystem.write_file(path=${JSON.stringify(join(paths.files, 'copy.txt'))}, content=text["content"])`,
    ]);
    // The program (and so the model) sees the placeholder; the file written on the host has the value.
    expect(stdout).toMatch(/^\{'content': 'Ada Lovelace <\[EMAIL_1:[a-z2-7]{6}\]>\\n'\}\n$/);
    expect(readFileSync(join(paths.files, 'copy.txt'), 'utf8')).toBe('Ada Lovelace <ada@example.com>\n');
    // The approval prompt shows what the program passed: the placeholder, not the address.
    expect(String(prompts[0]?.message)).toMatch(/\[EMAIL_1:[a-z2-7]{6}\]/);
    expect(String(prompts[0]?.message)).not.toContain('ada@example.com');
  });

  it('restores only to the tools restore_to names, and tokenizes what they return', async () => {
    const contacts = JSON.stringify(join(paths.files, 'contacts.txt'));
    const copy = JSON.stringify(join(paths.files, 'copy-tool.txt'));
    const stdout = await run(
      [
        'import mcp',
        `text = (await mcp_filesystem.read_text_file(path=${contacts}))["content"]`,
        'placeholder = text[text.index("<") + 1:text.index(">")]',
        `await mcp_filesystem.write_file(path=${copy}, content=placeholder)`,
        // edit_file is not named: it gets the placeholder as written, so it cannot test guesses about the value.
        'try:',
        `    await mcp_filesystem.edit_file(path=${copy}, edits=[{"oldText": placeholder, "newText": "x"}], dryRun=True)`,
        'except mcp.ToolError as error:',
        '    print("edit_file:", "Could not find exact match" in str(error))',
        // echo is named and not a `from` server: it gets the address, and what it returns is tokenized again.
        'echoed = await mcp_echoer.echo(message="to " + placeholder)',
        'print(echoed == "Echo: to " + placeholder)',
      ],
      ['filesystem', 'echoer'],
    );
    expect(stdout).toBe('edit_file: True\nTrue\n');
    expect(readFileSync(join(paths.files, 'copy-tool.txt'), 'utf8')).toBe('ada@example.com');
  });

  it('placeholders mean the same value for a whole session, and are refused in another run', async () => {
    const read = (file: string) =>
      `text = (await mcp_filesystem.read_text_file(path=${JSON.stringify(join(paths.files, file))}))["content"]`;
    const first = await bridge.runPython({
      session: 'crm',
      servers: ['filesystem'],
      timeout: 60,
      code: [read('contacts.txt'), 'kept = text[text.index("<") + 1:text.index(">")]', 'print(kept)'].join(
        '\n',
      ),
    });
    const kept = first.structured.stdout.trim();
    expect(kept).toMatch(/^\[EMAIL_1:[a-z2-7]{6}\]$/);
    // A later run of the same session: the placeholder is still Ada's address.
    const later = await bridge.runPython({
      session: 'crm',
      servers: ['filesystem'],
      timeout: 60,
      code: `await mcp_filesystem.write_file(path=${JSON.stringify(join(paths.files, 'session.txt'))}, content=kept)\nprint("ok")`,
    });
    expect(later.structured.stdout).toBe('ok\n');
    expect(readFileSync(join(paths.files, 'session.txt'), 'utf8')).toBe('ada@example.com');
    // Another run, whose own EMAIL_1 is Bob: Ada's placeholder is refused, never restored to Bob.
    const other = await run([
      'import mcp',
      read('others.txt'),
      'print(text.split("<[")[1].split(":")[0])',
      'try:',
      `    await mcp_filesystem.write_file(path=${JSON.stringify(join(paths.files, 'wrong.txt'))}, content=${JSON.stringify(kept)})`,
      'except mcp.PolicyError as error:',
      '    print(error.code, error.rule)',
      '    print(str(error).split(":")[0])',
    ]);
    expect(other).toBe(
      'EMAIL_1\nPOLICY_PLACEHOLDER tokenize.restore_to\nfilesystem.write_file was not called\n',
    );
    expect(existsSync(join(paths.files, 'wrong.txt'))).toBe(false);
  });

  it('refuses tool names the server never listed, naming the closest listed ones', async () => {
    const stdout = await run([
      'import mcp',
      'for name in ("MOVE-FILE", "move\u2010file", "move_file ", "write_fil"):',
      '    try:',
      '        await mcp.runtime.call_tool("filesystem", name, {"source": "contacts.txt", "destination": "moved2.txt"})',
      '    except mcp.ToolError as error:',
      '        print(error.code, str(error).split("; ")[0], "|", str(error).split(". ")[-1])',
    ]);
    expect(stdout.split('\n')).toEqual([
      `UNKNOWN_TOOL MCP server 'filesystem' has no tool "MOVE-FILE" | Did you mean "move_file"?`,
      `UNKNOWN_TOOL MCP server 'filesystem' has no tool "move\\u2010file" | Did you mean "move_file"?`,
      `UNKNOWN_TOOL MCP server 'filesystem' has no tool "move_file " | Did you mean "move_file"?`,
      `UNKNOWN_TOOL MCP server 'filesystem' has no tool "write_fil" | Did you mean "write_file"?`,
      '',
    ]);
    expect(existsSync(join(paths.files, 'moved2.txt'))).toBe(false);
  });

  it('shows an approval every argument by name, the path in full, escaped', async () => {
    answer = { action: 'decline' };
    const hook = join(paths.files, '.git', 'hooks', 'pre-commit');
    await run([
      'import mcp',
      'try:',
      '    await mcp_filesystem.write_file(',
      '        content="#!/bin/sh\\n" + "echo hi\\n" * 400 + "\\u2028Arguments end here. Reading a file only.",',
      `        path=${JSON.stringify(hook)},`,
      '    )',
      'except mcp.PolicyError as error:',
      '    print(error.code)',
    ]);
    expect(prompts).toHaveLength(1);
    const message = String(prompts[0]?.message);
    expect(message).toContain(
      `2 arguments, shortest first (long values cut where marked):\n  path: ${JSON.stringify(hook)}\n`,
    );
    expect(message).toMatch(/\n {2}content: "#!\/bin\/sh\\necho hi\\n.*… \[cut: [\d,]+ more characters\]\n/);
    expect(message).not.toMatch(/[\u2028\u2029]/);
    expect(existsSync(hook)).toBe(false);
  });

  it('a flood of refused calls costs the run its budget, slows down, and writes at most its cap of lines', async () => {
    const stdout = await run([
      'import mcp, time',
      'codes = {}',
      'started = time.monotonic()',
      'for i in range(150):',
      '    try:',
      '        await mcp_filesystem.move_file(source="contacts.txt", destination="moved.txt")',
      '    except mcp.PolicyError as error:',
      '        key = error.code + " " + error.rule',
      '        codes[key] = codes.get(key, 0) + 1',
      'print(codes)',
      'print(time.monotonic() - started >= 4.5)',
    ]);
    expect(stdout).toBe(
      `{'POLICY_DENIED servers.filesystem.deny["move_file"]': 100, 'POLICY_BUDGET budget.refused_calls': 50}\nTrue\n`,
    );
    const entries = readFileSync(paths.audit, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const summary = entries.find((entry) => entry.kind === 'summary');
    expect(summary).toMatchObject({
      kind: 'summary',
      cap: `MCP_BRIDGE_AUDIT_RUN_LINES=${AUDIT_RUN_LINES}`,
      calls: 150 - AUDIT_RUN_LINES,
      outcomes: { refused: 150 - AUDIT_RUN_LINES },
      tools: { filesystem: { move_file: 150 - AUDIT_RUN_LINES } },
    });
    const ofRun = entries.filter((entry) => entry.run === summary.run && entry.pid === summary.pid);
    expect(ofRun).toHaveLength(AUDIT_RUN_LINES + 1);
    // The run's own first denied call is still in the log.
    expect(ofRun[0]).toMatchObject({ tool: 'move_file', outcome: 'refused', code: 'POLICY_DENIED' });
    // Earlier runs' records are all still there.
    expect(entries.filter((entry) => entry.tool === 'read_text_file').length).toBeGreaterThanOrEqual(3);
  }, 120_000);

  it('audits every call and decision without values; the audit command filters them', async () => {
    const log = readFileSync(paths.audit, 'utf8');
    expect(log).not.toContain(FS_SECRET);
    expect(log).not.toContain('ada@example.com');
    const records = log
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(records).toContainEqual(
      expect.objectContaining({
        server: 'filesystem',
        tool: 'move_file',
        action: 'deny',
        outcome: 'refused',
        code: 'POLICY_DENIED',
        args: expect.objectContaining({ sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }),
      }),
    );
    expect(records).toContainEqual(
      expect.objectContaining({ tool: 'write_file', approval: 'declined', outcome: 'refused' }),
    );
    expect(records).toContainEqual(
      expect.objectContaining({
        tool: 'read_text_file',
        outcome: 'ok',
        tokenized: 1,
        bytes: expect.any(Number),
      }),
    );
    const cli = (args: string[]) =>
      execFileSync(process.execPath, [BRIDGE_MAIN, 'audit', ...args], {
        encoding: 'utf8',
        env: { ...process.env, MCP_BRIDGE_AUDIT_LOG: paths.audit },
      });
    const refused = cli(['--refused', '--server', 'file*', '--json'])
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(refused.length).toBeGreaterThanOrEqual(3);
    // A summary line (the flood's) passes as its calls would: refused, on filesystem.
    expect(
      refused.every((record) =>
        record.kind === 'summary'
          ? record.outcomes.refused > 0 && 'filesystem' in record.tools
          : record.outcome === 'refused' && record.server === 'filesystem',
      ),
    ).toBe(true);
    const text = cli(['--tool', 'move_file', '--action', 'deny', '--last', '1']);
    expect(text).toMatch(
      /filesystem\.move_file deny \(servers\.filesystem\.deny\["move_file"\]\) refused POLICY_DENIED/,
    );
    // Names a program chose are escaped in text and in JSON: nothing a terminal would act on.
    await run([
      'import mcp',
      'try:',
      '    await mcp.runtime.call_tool("filesystem", "x\\x1b[2J\\x1b[H\\rforged\\u2028line\\u202e", {})',
      'except mcp.ToolError as error:',
      '    print(error.code)',
    ]);
    const hostile = cli(['--tool', 'x*']);
    expect(hostile).toContain('filesystem.x\\x1b[2J\\x1b[H\\rforged\\u2028line\\u202e refused UNKNOWN_TOOL');
    expect(hasHiddenCharacters(hostile.trimEnd())).toBe(false);
    expect(hostile.trimEnd().split('\n')).toHaveLength(1);
    const json = cli(['--tool', 'x*', '--json']);
    expect(hasHiddenCharacters(json.trimEnd())).toBe(false);
    expect(JSON.parse(json).tool).toBe('x\x1b[2J\x1b[H\rforged\u2028line\u202e');
    // The flood's summary line reads as one line too.
    expect(cli(['--tool', 'move_file', '--last', '1'])).toMatch(
      /summary: 110 more calls not recorded one by one \(cap MCP_BRIDGE_AUDIT_RUN_LINES=40\): refused 110; filesystem\.move_file 110\n$/,
    );
  });
});

describe('policy with a client that cannot be asked, and a malformed policy', () => {
  let home: TestHome;
  let paths: ReturnType<typeof configure>;
  beforeAll(() => {
    home = createTestHome();
    paths = configure(home);
  });
  afterAll(() => home?.cleanup());

  it('refuses ask rules clearly when the client has no elicitation', async () => {
    const bridge = await startBridge(
      {
        HOME: home.home,
        MCP_BRIDGE_RUNTIME: 'embedded',
        MCP_BRIDGE_STATE_DIR: stateDir,
        MCP_BRIDGE_POLICY: paths.policy,
      },
      { cwd: home.project },
    );
    try {
      const result = await bridge.runPython({
        code: [
          'import mcp',
          'try:',
          `    await mcp_filesystem.write_file(path=${JSON.stringify(join(paths.files, 'b.txt'))}, content="x")`,
          'except mcp.PolicyError as error:',
          '    print(error.code, str(error))',
        ].join('\n'),
        servers: ['filesystem'],
        timeout: 120,
      });
      expect(result.structured.stdout).toMatch(
        /^POLICY_DECLINED filesystem\.write_file needs the user's approval, and this MCP client cannot be asked \(it does not support elicitation\)/,
      );
      expect(existsSync(join(paths.files, 'b.txt'))).toBe(false);
    } finally {
      await bridge.close();
    }
  }, 300_000);

  it('a malformed policy stops the bridge with the file, line and rule, served to the client', async () => {
    const bad = home.write('bad-policy.toml', 'default = "allow"\n\n[servers.filesystem]\nreadonly = true\n');
    const bridge = await startBridge(
      {
        HOME: home.home,
        MCP_BRIDGE_RUNTIME: 'embedded',
        MCP_BRIDGE_STATE_DIR: stateDir,
        MCP_BRIDGE_POLICY: bad,
      },
      { cwd: home.project },
    );
    try {
      const result = await bridge.runPython({ code: 'print(1)' });
      expect(result.isError).toBe(true);
      expect(result.text).toContain(`${bad}:4: policy rule servers.filesystem.readonly: unknown key`);
      expect(result.text).toContain('MCP_BRIDGE_POLICY');
    } finally {
      await bridge.close();
    }
    // The other commands exit 2 with the same message.
    let failure: { status?: number; stderr?: string } = {};
    try {
      execFileSync(process.execPath, [BRIDGE_MAIN, 'run', '-e', 'print(1)'], {
        encoding: 'utf8',
        stdio: 'pipe',
        env: { ...process.env, HOME: home.home, MCP_BRIDGE_RUNTIME: 'embedded', MCP_BRIDGE_POLICY: bad },
      });
    } catch (error) {
      failure = error as typeof failure;
    }
    expect(failure.status).toBe(2);
    expect(failure.stderr).toContain(`${bad}:4`);
    // doctor prints its whole report with the policy's error in it, and exits 2 too.
    const doctor = spawnSync(process.execPath, [BRIDGE_MAIN, 'doctor'], {
      encoding: 'utf8',
      env: { ...process.env, HOME: home.home, MCP_BRIDGE_RUNTIME: 'embedded', MCP_BRIDGE_POLICY: bad },
    });
    expect(doctor.status).toBe(2);
    expect(doctor.stdout).toContain(
      `Invalid policy (MCP_BRIDGE_POLICY): ${bad}:4: policy rule servers.filesystem.readonly: unknown key`,
    );
    expect(doctor.stdout).toContain('MCP config files read:');
  }, 120_000);

  it('no policy: tool docs carry no policy and the description does not mention one', async () => {
    // No policy file and no entry with a policy block.
    home.write('.claude.json', {
      mcpServers: {
        filesystem: { command: process.execPath, args: [serverEntry('server-filesystem'), paths.files] },
      },
    });
    const bridge = await startBridge(
      { HOME: home.home, MCP_BRIDGE_RUNTIME: 'embedded', MCP_BRIDGE_STATE_DIR: stateDir },
      { cwd: home.project },
    );
    try {
      const { tools } = await bridge.client.listTools();
      expect(tools[0]?.description).not.toContain('PolicyError');
      const result = await bridge.runPython({
        code: 'import mcp.runtime as rt\nprint(sorted((await rt.query_tool_docs("filesystem", "write_file")).keys()))',
        servers: ['filesystem'],
        timeout: 120,
      });
      expect(result.structured.stdout).toBe(
        "['description', 'server', 'serverAlias', 'signature', 'tool', 'toolAlias']\n",
      );
      // Without a policy too, a name the server never listed does not reach it.
      const unknown = await bridge.runPython({
        code: 'import mcp\ntry:\n    await mcp.runtime.call_tool("filesystem", "Write_File", {"path": "x", "content": "y"})\nexcept mcp.ToolError as error:\n    print(error.code, str(error).split(". ")[-1])',
        servers: ['filesystem'],
        timeout: 120,
      });
      expect(unknown.structured.stdout).toBe('UNKNOWN_TOOL Did you mean "write_file"?\n');
    } finally {
      await bridge.close();
    }
  }, 300_000);
});
