/**
 * Skills that persist (`save_tool`), through the real bridge and real upstream servers on both
 * backends, sharing one state dir: saving (call and decorator), versions, loading in later runs and
 * on the other backend, skills that call MCP tools, broken files written by hand, deletion, the
 * `skills` command, search and resources, and what a hostile program can try against the store.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBridge, type RunResult, startBridge } from '../helpers/bridge.js';
import { BRIDGE_MAIN, containerSupport } from '../helpers/environment.js';
import { createTestHome, standardServers, type TestHome } from '../helpers/upstreams.js';

const container = containerSupport();
const stateDir = mkdtempSync(join(tmpdir(), 'codemode-skills-state-'));
const skillsDir = join(stateDir, 'skills');
let home: TestHome;
const bridges: { container?: RunningBridge; embedded?: RunningBridge } = {};

const BACKENDS = [
  { name: 'container' as const, prefix: 'con', skip: container.skipReason },
  { name: 'embedded' as const, prefix: 'emb', skip: undefined },
];

function bridgeEnv(runtime: string): Record<string, string> {
  return { HOME: home.home, MCP_BRIDGE_RUNTIME: runtime, MCP_BRIDGE_STATE_DIR: stateDir };
}

beforeAll(async () => {
  home = createTestHome();
  home.write('.claude.json', { mcpServers: standardServers(home.home, 'skills-secret-4711') });
  const starting = [startBridge(bridgeEnv('embedded'), { cwd: home.project })];
  if (!container.skipReason)
    starting.push(startBridge(bridgeEnv(container.engine ?? 'podman'), { cwd: home.project }));
  const [embedded, containerBridge] = await Promise.all(starting);
  bridges.embedded = embedded;
  bridges.container = containerBridge;
  // An embedded bridge's first run starts cold while its snapshot is built (slow on a busy machine).
  expect((await embedded?.runPython({ code: 'print("warm")', timeout: 120 }))?.text).toBe('warm');
}, 300_000);
afterAll(async () => {
  await Promise.all([bridges.embedded?.close(), bridges.container?.close()]);
  home?.cleanup();
  rmSync(stateDir, { recursive: true, force: true });
});

async function run(
  bridge: RunningBridge | undefined,
  lines: string[],
  servers: string[] = [],
): Promise<RunResult> {
  if (!bridge) throw new Error('bridge not started');
  return bridge.runPython({ code: lines.join('\n'), servers, timeout: 60 });
}

/** Runs `lines`, expects success with nothing on stderr, and returns stdout. */
async function ok(
  bridge: RunningBridge | undefined,
  lines: string[],
  servers: string[] = [],
): Promise<string> {
  const result = await run(bridge, lines, servers);
  expect(result.structured, result.text).toMatchObject({ status: 'ok', stderr: '' });
  return result.structured.stdout;
}

function cli(...args: string[]) {
  return spawnSync(process.execPath, [BRIDGE_MAIN, 'skills', ...args], {
    env: { ...process.env, HOME: home.home, MCP_BRIDGE_STATE_DIR: stateDir, MCP_BRIDGE_LOG_LEVEL: 'error' },
    encoding: 'utf8',
  });
}

function versionsOnDisk(name: string): string[] {
  const dir = join(skillsDir, name);
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip)(
    `skills (${backend.name})${backend.skip ? ` (skipped: ${backend.skip})` : ''}`,
    () => {
      const p = backend.prefix;
      const bridge = () => bridges[backend.name];

      it('save_tool(func) keeps a function typed into run_python; later runs import it or call it by name', async () => {
        const saved = await ok(bridge(), [
          'import json',
          `def ${p}_pretty(value, indent=2):`,
          '    """Pretty-prints a value as JSON."""',
          '    return json.dumps(value, indent=indent, sort_keys=True)',
          `save_tool(${p}_pretty)`,
          `print(${p}_pretty({"b": 1, "a": 2}, indent=None))`,
        ]);
        expect(saved).toBe('{"a": 2, "b": 1}\n');
        expect(versionsOnDisk(`${p}_pretty`)).toEqual(['v1.py']);
        const later = await ok(bridge(), [
          `from skills import ${p}_pretty as pretty`,
          'print(pretty([1]))',
          `print(${p}_pretty({"x": 1}, indent=None), ${p}_pretty.__doc__)`,
        ]);
        expect(later).toBe('[\n  1\n]\n{"x": 1} Pretty-prints a value as JSON.\n');
      });

      it('@save_tool works as a decorator, and writes what the function needs from the program into the skill', async () => {
        await ok(bridge(), [
          'from collections import Counter',
          'import re',
          'TOP = 2',
          '@save_tool',
          `def ${p}_top_words(text, n=TOP):`,
          '    """The n most common words."""',
          '    return Counter(re.findall(r"[a-z]+", text.lower())).most_common(n)',
          `print(${p}_top_words("a b a"))`,
        ]);
        const shown = cli('show', `${p}_top_words`);
        expect(shown.status, shown.stderr).toBe(0);
        expect(shown.stdout).toContain('from collections import Counter\nimport re\n\nTOP = 2\n\ndef ');
        expect(shown.stdout).not.toContain('@save_tool');
        expect(await ok(bridge(), [`print(${p}_top_words("x y y z z z"))`])).toBe("[('z', 3), ('y', 2)]\n");
      });

      it('saving again makes a new version and keeps the old one; runs get the newest', async () => {
        for (const answer of [1, 2]) {
          await ok(bridge(), [`def ${p}_answer():`, `    return ${answer}`, `save_tool(${p}_answer)`]);
        }
        const stdout = await ok(bridge(), [
          'import mcp.runtime as rt',
          `print(${p}_answer())`,
          `print([(s["version"], s["versions"]) for s in await rt.list_skills() if s["name"] == "${p}_answer"])`,
        ]);
        expect(stdout).toBe('2\n[(2, [1, 2])]\n');
        expect(cli('show', `${p}_answer`, '--version', '1').stdout).toContain('    return 1\n');
      });

      it('a skill that calls MCP tools works where its server is granted, and says so where it is not', async () => {
        await ok(
          bridge(),
          [
            '@save_tool',
            `async def ${p}_entity_names():`,
            '    """Names of the entities in the memory graph."""',
            '    graph = await mcp_memory.read_graph()',
            '    return sorted(entity["name"] for entity in graph["entities"])',
            `await mcp_memory.create_entities(entities=[{"name": "${p}-Ada", "entityType": "person", "observations": []}])`,
          ],
          ['memory'],
        );
        expect(await ok(bridge(), [`print("${p}-Ada" in await ${p}_entity_names())`], ['memory'])).toBe(
          'True\n',
        );
        const refused = await run(bridge(), [`await ${p}_entity_names()`]);
        expect(refused.structured.status).toBe('error');
        expect(refused.structured.error).toBe(
          "mcp.ToolError: server 'memory' is not granted to this run; pass it in run_python's `servers` to use read_graph",
        );
        expect(
          await ok(bridge(), [
            'import mcp.runtime as rt',
            `print([s["servers"] for s in rt.list_skills() if s["name"] == "${p}_entity_names"])`,
          ]),
        ).toBe("[['memory']]\n");
      });

      it('refuses in the program, at once, what could not work later', async () => {
        const stdout = await ok(bridge(), [
          'def helper():',
          '    return 1',
          `def ${p}_uses_helper():`,
          '    return helper()',
          'def outer():',
          `    def ${p}_inner():`,
          '        return 1',
          `    return ${p}_inner`,
          'def os():',
          '    pass',
          `def ${p}_huge():`,
          `    return "${'x'.repeat(70_000)}"`,
          `for candidate in (lambda: 1, outer(), ${p}_uses_helper, os, ${p}_huge, print, 42):`,
          '    try:',
          '        save_tool(candidate)',
          '        print("saved?!")',
          '    except (TypeError, ValueError) as error:',
          '        print(type(error).__name__, str(error)[:90])',
        ]);
        const lines = stdout.split('\n');
        const expected = [
          /^ValueError save_tool cannot save a lambda; define the function with `def`$/,
          /^ValueError save_tool\(\w+_inner\): define the function at the top level of the program/,
          /^ValueError save_tool\(\w+_uses_helper\): it uses 'helper', defined in this program/,
          /^ValueError save_tool\(os\): 'os' is the name of a standard library module; rename the fun/,
          /^ValueError save_tool\(\w+_huge\): the source is 700\d\d bytes; a skill holds at most 65536/,
          /^TypeError save_tool expects a function defined with `def`, not builtin_function_or_method$/,
          /^TypeError save_tool expects a function defined with `def`, not int$/,
        ];
        expect(lines).toHaveLength(expected.length + 1);
        for (const [index, pattern] of expected.entries()) expect(lines[index]).toMatch(pattern);
        expect(versionsOnDisk(`${p}_uses_helper`)).toEqual([]);
      });

      it('delete_skill removes a skill; an unknown one fails when awaited, or fails the run when not', async () => {
        await ok(bridge(), [`def ${p}_doomed():`, '    return 1', `save_tool(${p}_doomed)`]);
        const stdout = await ok(bridge(), [
          'import mcp.runtime as rt',
          `print(await delete_skill("${p}_doomed"))`,
          'try:',
          `    await rt.delete_skill("${p}_doomed")`,
          'except rt.MCPError as error:',
          '    print("MCPError:", str(error).split(";")[0])',
        ]);
        expect(stdout).toBe(
          `{'name': '${p}_doomed', 'deleted': [1]}\nMCPError: no skill named '${p}_doomed'\n`,
        );
        expect(versionsOnDisk(`${p}_doomed`)).toEqual([]);
        const gone = await run(bridge(), [`${p}_doomed()`]);
        expect(gone.structured.error).toBe(`NameError: name '${p}_doomed' is not defined`);
        const unawaited = await run(bridge(), [
          `delete_skill("${p}_never_saved")`,
          'print("the program itself ended fine")',
        ]);
        expect(unawaited.structured.status).toBe('error');
        expect(unawaited.structured.stdout).toContain('the program itself ended fine');
        expect(unawaited.structured.error).toMatch(
          new RegExp(
            `^ToolError: delete_skill\\('${p}_never_saved'\\) failed: no skill named '${p}_never_saved'`,
          ),
        );
        expect(unawaited.structured.traceback).toContain('line 1');
      });
    },
  );
}

describe.skipIf(container.skipReason)('skills across backends sharing a state dir', () => {
  it('a skill saved in a container loads in the embedded sandbox, and the other way round', async () => {
    await ok(bridges.container, [
      'def xb_from_container(x):',
      '    return ("container", x)',
      'save_tool(xb_from_container)',
    ]);
    await ok(bridges.embedded, [
      'def xb_from_embedded(x):',
      '    return ("embedded", x)',
      'save_tool(xb_from_embedded)',
    ]);
    expect(
      await ok(bridges.embedded, ['from skills import xb_from_container', 'print(xb_from_container(1))']),
    ).toBe("('container', 1)\n");
    expect(await ok(bridges.container, ['print(xb_from_embedded(2))'])).toBe("('embedded', 2)\n");
  });
});

describe('skills in the store, discovery and resources', () => {
  const embedded = () => bridges.embedded;

  it('a broken skill file never breaks a run; using it fails with the reason, and listings report it', async () => {
    await ok(embedded(), ['def st_fine():', '    return "fine"', 'save_tool(st_fine)']);
    mkdirSync(join(skillsDir, 'st_garbage'), { recursive: true });
    writeFileSync(join(skillsDir, 'st_garbage', 'v1.py'), Buffer.from([0xde, 0xad, 0xbe, 0xef, 0xff]));
    mkdirSync(join(skillsDir, 'st_syntax'), { recursive: true });
    writeFileSync(join(skillsDir, 'st_syntax', 'v1.py'), 'def st_syntax(:\n    pass\n');
    mkdirSync(join(skillsDir, 'st_raises'), { recursive: true });
    writeFileSync(
      join(skillsDir, 'st_raises', 'v1.py'),
      'raise RuntimeError("boom at import")\ndef st_raises():\n    pass\n',
    );

    expect(await ok(embedded(), ['print(st_fine(), 6 * 7)'])).toBe('fine 42\n');
    const stdout = await ok(embedded(), [
      'import mcp.runtime as rt',
      'for name in ("st_garbage", "st_syntax", "st_raises"):',
      '    try:',
      '        exec(f"from skills import {name}")',
      '    except ImportError as error:',
      '        print(error)',
      'print({s["name"]: s.get("error") for s in rt.list_skills() if s["name"].startswith("st_")})',
      'print([line for line in rt.capability_summary().splitlines() if "st_" in line])',
    ]);
    const lines = stdout.split('\n');
    expect(lines[0]).toBe("skill 'st_garbage' (version 1) cannot be loaded: the file is not valid UTF-8");
    expect(lines[1]).toBe(
      "skill 'st_syntax' (version 1) cannot be loaded: SyntaxError: invalid syntax (line 1)",
    );
    expect(lines[2]).toBe("skill 'st_raises' (version 1) failed while loading: RuntimeError: boom at import");
    expect(lines[3]).toBe(
      "{'st_fine': None, 'st_garbage': 'the file is not valid UTF-8', 'st_raises': None, 'st_syntax': 'SyntaxError: invalid syntax (line 1)'}",
    );
    expect(lines[4]).toContain('st_garbage(...) [cannot load: the file is not valid UTF-8]');
    expect(lines[4]).toContain('st_syntax(...) [cannot load: SyntaxError: invalid syntax (line 1)]');

    const listed = cli('list');
    expect(listed.status).toBe(0);
    expect(listed.stdout).toContain('st_garbage(...)  version 1\n  ERROR: the file is not valid UTF-8\n');
    const resource = await embedded()?.client.readResource({ uri: 'codemode://skills' });
    const text = resource?.contents[0] && 'text' in resource.contents[0] ? resource.contents[0].text : '';
    expect(text).toContain('- st_garbage(...) [version 1] — cannot load: the file is not valid UTF-8');
    for (const name of ['st_garbage', 'st_syntax', 'st_raises'])
      rmSync(join(skillsDir, name), { recursive: true });
  });

  it('search_tool_docs ranks skills beside tools; capability_summary, resources and the CLI list them', async () => {
    await ok(embedded(), [
      '@save_tool',
      'def st_celsius_to_fahrenheit(celsius):',
      '    """Convert a temperature from Celsius to Fahrenheit."""',
      '    return celsius * 9 / 5 + 32',
    ]);
    const stdout = await ok(embedded(), [
      'import mcp.runtime as rt',
      'hit = (await rt.search_tool_docs("convert temperature to fahrenheit", limit=1))[0]',
      'print(hit["server"], hit["tool"], hit["skill"], hit["import"], hit["signature"])',
      'print(rt.search_tool_docs_sync("celsius")[0]["tool"])',
      'print([l for l in rt.capability_summary().splitlines() if "celsius" in l])',
    ]);
    expect(stdout.split('\n')).toEqual([
      'skills st_celsius_to_fahrenheit True from skills import st_celsius_to_fahrenheit st_celsius_to_fahrenheit(celsius)',
      'st_celsius_to_fahrenheit',
      "['  st_celsius_to_fahrenheit(celsius) - Convert a temperature from Celsius to Fahrenheit.']",
      '',
    ]);
    const client = embedded()?.client;
    const { resources } = (await client?.listResources()) ?? { resources: [] };
    expect(resources.map((r) => r.uri)).toContain('codemode://skills/st_celsius_to_fahrenheit');
    const source = await client?.readResource({ uri: 'codemode://skills/st_celsius_to_fahrenheit' });
    expect(source?.contents[0] && 'text' in source.contents[0] ? source.contents[0].text : '').toBe(
      'def st_celsius_to_fahrenheit(celsius):\n    """Convert a temperature from Celsius to Fahrenheit."""\n    return celsius * 9 / 5 + 32\n',
    );
    const json = cli('list', '--json');
    expect(json.status).toBe(0);
    const listed = JSON.parse(json.stdout) as { dir: string; skills: Array<Record<string, unknown>> };
    expect(listed.dir).toBe(skillsDir);
    expect(listed.skills.find((skill) => skill.name === 'st_celsius_to_fahrenheit')).toMatchObject({
      version: 1,
      signature: '(celsius)',
      description: 'Convert a temperature from Celsius to Fahrenheit.',
    });
  });

  it('codemode-bridge skills shows and removes, one version or all, and refuses what is not a skill', async () => {
    for (const n of [1, 2, 3])
      await ok(embedded(), [`def st_cli():`, `    return ${n}`, 'save_tool(st_cli)']);
    const shown = JSON.parse(cli('show', 'st_cli', '--json').stdout) as Record<string, unknown>;
    expect(shown).toMatchObject({ name: 'st_cli', version: 3, versions: [1, 2, 3], signature: '()' });
    expect(cli('remove', 'st_cli', '--version', '3').stdout).toBe('Removed version 3 of skill st_cli.\n');
    expect(await ok(embedded(), ['print(st_cli())'])).toBe('2\n');
    expect(cli('remove', 'st_cli').stdout).toBe('Removed every version (1, 2) of skill st_cli.\n');
    expect(versionsOnDisk('st_cli')).toEqual([]);
    const unknown = cli('remove', 'st_cli');
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/no skill named 'st_cli'/);
    const traversal = cli('remove', '../skills');
    expect(traversal.status).toBe(1);
    expect(traversal.stderr).toContain('"../skills" is not a skill name');
    expect(existsSync(skillsDir)).toBe(true);
    expect(cli('show', 'x', '--version', 'abc').status).toBe(2);
    expect(cli('frobnicate').status).toBe(2);
  });

  it('the host refuses forged saves and deletes: bad names, traversal, NUL, oversize, no def', async () => {
    const cases = [
      ['__import__', 'def __import__(): pass\n'],
      ['os', 'def os(): pass\n'],
      ['print', 'def print(): pass\n'],
      ['mcp_memory', 'def mcp_memory(): pass\n'],
      ['../x', 'def x(): pass\n'],
      ['..', 'def x(): pass\n'],
      ['a\u0000b', 'def a(): pass\n'],
      ['st_big', `def st_big(): pass\n#${'x'.repeat(70_000)}\n`],
      ['st_nodef', 'print("hello")\n'],
      ['st_nul', 'def st_nul(): pass\n\u0000\n'],
      [42, 'def x(): pass\n'],
    ];
    const stdout = await ok(embedded(), [
      'import json, mcp.runtime as rt',
      `for name, source in json.loads(${JSON.stringify(JSON.stringify(cases))}):`,
      '    try:',
      '        await rt._ask("save_skill", name=name, source=source)',
      '        print("saved?!", name)',
      '    except rt.MCPError as error:',
      '        print(error.code, error)',
      'for name in ("../skills", "..", ".tmp", "/etc", "a/b", "x" * 100):',
      '    try:',
      '        await rt._ask("delete_skill", name=name)',
      '        print("deleted?!", name)',
      '    except rt.MCPError as error:',
      '        print(error.code)',
    ]);
    const lines = stdout.split('\n');
    expect(lines.slice(0, cases.length)).toEqual([
      'INVALID_SKILL cannot save a skill named "__import__": a skill name is an ASCII identifier that starts with a letter, at most 64 characters',
      `INVALID_SKILL cannot save a skill named "os": 'os' is the name of a standard library module`,
      `INVALID_SKILL cannot save a skill named "print": 'print' would shadow the builtin of that name`,
      `INVALID_SKILL cannot save a skill named "mcp_memory": 'mcp_memory' is a name the sandbox gives every program`,
      'INVALID_SKILL cannot save a skill named "../x": a skill name is an ASCII identifier that starts with a letter, at most 64 characters',
      'INVALID_SKILL cannot save a skill named "..": a skill name is an ASCII identifier that starts with a letter, at most 64 characters',
      'INVALID_SKILL cannot save a skill named "a\\u0000b": a skill name is an ASCII identifier that starts with a letter, at most 64 characters',
      "INVALID_SKILL skill 'st_big': the source is 70,021 bytes; a skill holds at most 65,536",
      "INVALID_SKILL skill 'st_nodef': the source does not define a function 'st_nodef' at its top level",
      "INVALID_SKILL skill 'st_nul': the source contains a NUL character",
      'INVALID_SKILL cannot save a skill named "42": a skill name is an ASCII identifier that starts with a letter, at most 64 characters',
    ]);
    expect(lines.slice(cases.length, -1)).toEqual(Array(6).fill('BAD_ARGUMENTS'));
    // Nothing was written anywhere but the store's own directories.
    expect(readdirSync(stateDir).sort()).toEqual(['embedded', 'skills']);
    expect(
      readdirSync(skillsDir).filter((name) => /^(x|a|os|print|st_big|st_nodef|st_nul)$/.test(name)),
    ).toEqual([]);
  });

  it('a flood of saves is bounded: versions kept, saves per run, and the run says why it failed', async () => {
    const result = await run(embedded(), [
      'def st_flood(i=0):',
      '    return i',
      'for _ in range(100):',
      '    save_tool(st_flood)',
      'print("queued")',
    ]);
    expect(result.structured.stdout).toBe('queued\n');
    expect(result.structured.status).toBe('error');
    expect(result.structured.error).toBe(
      'ToolError: save_tool(st_flood) failed: a run may save at most 64 skills',
    );
    expect(versionsOnDisk('st_flood')).toEqual([
      'v55.py',
      'v56.py',
      'v57.py',
      'v58.py',
      'v59.py',
      'v60.py',
      'v61.py',
      'v62.py',
      'v63.py',
      'v64.py',
    ]);
  });

  it('two runs saving the same skill at once lose no version and corrupt nothing', async () => {
    const save = (tag: string) =>
      ok(embedded(), [
        'async def st_race():',
        `    return "${tag}"`,
        'for _ in range(4):',
        '    save_tool(st_race)',
      ]);
    const runs = [save('a'), save('b')];
    if (bridges.container)
      runs.push(ok(bridges.container, ['def st_race():', '    return "c"', 'save_tool(st_race)']));
    await Promise.all(runs);
    const expected = bridges.container ? 9 : 8;
    expect(versionsOnDisk('st_race')).toEqual(
      Array.from({ length: expected }, (_, i) => `v${i + 1}.py`).sort(),
    );
    const listed = JSON.parse(cli('list', '--json').stdout) as { skills: Array<Record<string, unknown>> };
    expect(listed.skills.find((skill) => skill.name === 'st_race')).toMatchObject({ version: expected });
    expect(listed.skills.find((skill) => skill.name === 'st_race')).not.toHaveProperty('error');
  });
});
