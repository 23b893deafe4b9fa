/**
 * One bridge for a team: three principals of a tokens file (alice and bob, users; root, an admin) on
 * one real `serve --http` with the reference `everything` server and an audit log. What each leaves
 * behind is its own (named sessions, saved values, skills); a skill reaches the others only when
 * published, and then only its author and admins change it; the audit log and the console say whose
 * each run was, and the console shows a user its own runs and an admin everyone's (real Chromium);
 * one principal flooding the bridge does not starve another. How much the flood slows the other
 * principal is measured in bench/team.mjs, not asserted here.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BRIDGE_MAIN } from '../helpers/environment.js';
import { type HttpBridge, runPython, startHttpBridge } from '../helpers/http-bridge.js';
import { systemBinarySkipReason } from '../helpers/system-binaries.js';
import { serverEntry } from '../helpers/upstreams.js';

const ALICE = 'alice-team-token-0123456789ab';
const BOB = 'bob-team-token-0123456789abcd';
const ROOT = 'root-team-token-0123456789abc';
const CHROMIUM = '/usr/bin/chromium';
const noChromium = systemBinarySkipReason(CHROMIUM, 'chromium');

/** Every text part of a result: stdout, then `[stderr]` and `[error]` sections. */
function allText(result: CallToolResult): string {
  return result.content.map((part) => (part.type === 'text' ? part.text : '')).join('\n');
}

describe('one bridge for a team (tokens file: alice, bob, root)', () => {
  let dir: string;
  let stateDir: string;
  let auditLog: string;
  let bridge: HttpBridge;
  let alice: Client;
  let bob: Client;
  let root: Client;
  const env = (): Record<string, string> => ({
    HOME: dir,
    MCP_BRIDGE_STATE_DIR: stateDir,
    MCP_BRIDGE_AUDIT_LOG: auditLog,
  });
  const run = async (client: Client, code: string, extra: Record<string, unknown> = {}) =>
    allText(await runPython(client, { code, timeout: 120, ...extra }));
  // Asynchronous: a blocked event loop would miss the bridge closing an idle keep-alive connection,
  // and the clients' next request would go out on it.
  const cli = (...args: string[]) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [BRIDGE_MAIN, ...args],
        { env: { ...process.env, ...env() }, encoding: 'utf8', timeout: 60_000 },
        (error, stdout, stderr) => resolve({ status: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'codemode-team-'));
    stateDir = join(dir, 'state');
    auditLog = join(dir, 'audit.jsonl');
    const tokens = join(dir, 'tokens.toml');
    writeFileSync(
      tokens,
      [
        ['alice', 'user', ALICE],
        ['bob', 'user', BOB],
        ['root', 'admin', ROOT],
      ]
        .map(([name, role, token]) => `[[tokens]]\nname = "${name}"\nrole = "${role}"\ntoken = "${token}"\n`)
        .join('\n'),
    );
    const config = join(dir, 'mcp.json');
    writeFileSync(
      config,
      JSON.stringify({
        mcpServers: { everything: { command: process.execPath, args: [serverEntry('server-everything')] } },
      }),
    );
    bridge = await startHttpBridge(
      ['serve', '--http', '0'],
      {
        ...env(),
        MCP_BRIDGE_CONFIG: config,
        MCP_BRIDGE_HTTP_TOKENS_FILE: tokens,
        // Two run slots: a principal's share is one, so a flood of one queues behind itself.
        MCP_BRIDGE_MAX_CONCURRENT_RUNS: '2',
        MCP_BRIDGE_POOL_SIZE: '2',
        MCP_BRIDGE_POOL_MAX: '3',
      },
      { cwd: dir },
    );
    alice = await bridge.connect({ token: ALICE, name: 'alice-client' });
    bob = await bridge.connect({ token: BOB, name: 'bob-client' });
    root = await bridge.connect({ token: ROOT, name: 'root-client' });
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([alice?.close(), bob?.close(), root?.close()]);
    await bridge?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("keeps each principal's named sessions and saved values its own", async () => {
    await run(alice, 'secret = 41\nimport mcp.runtime as rt\nawait rt.save("notes", "alice only")', {
      session: 'work',
    });
    expect(await run(bob, 'print(globals().get("secret"))', { session: 'work' })).toContain('None');
    expect(await run(alice, 'print(secret + 1)', { session: 'work' })).toContain('42');
    const bobs = await run(
      bob,
      [
        'import mcp.runtime as rt',
        'print("saved:", await rt.list_saved())',
        'try:',
        '    await rt.load("notes")',
        'except Exception as error:',
        '    print("refused:", type(error).__name__)',
      ].join('\n'),
    );
    expect(bobs).toContain('saved: []');
    expect(bobs).toContain('refused:');
    expect(await run(alice, 'import mcp.runtime as rt\nprint(await rt.load("notes"))')).toContain(
      'alice only',
    );
  }, 300_000);

  it("keeps a skill its saver's until published; a shared one is read-only to all but its author and admins", async () => {
    await run(alice, 'def greet(name):\n    return "hi " + name\nsave_tool(greet)');
    const unseen = await run(bob, 'import mcp.runtime as rt\nprint([s["name"] for s in rt.list_skills()])');
    expect(unseen).toContain('[]');

    await run(alice, 'def tally(xs):\n    return sum(xs)\nsave_tool(tally, shared=True)');
    const shared = await run(bob, 'print(tally([1, 2, 3]))\nprint(repr(tally))');
    expect(shared).toContain('6');
    expect(shared).toContain('<skill tally(xs), version 1, shared by alice>');

    const refused = await run(bob, 'def tally(xs):\n    return -1\nsave_tool(tally, shared=True)');
    expect(refused).toContain('published by alice; only its author and admins may change');

    // Bob's own version wins his runs, and loading it says which it hid; alice still gets the shared one.
    await run(bob, 'def tally(xs):\n    return len(xs)\nsave_tool(tally)');
    const own = await run(
      bob,
      'from skills import tally\nprint("got", tally([5, 5]), tally.__skill_origin__)',
    );
    expect(own).toContain('got 2');
    expect(own).toContain('tally is your own (version 1); it hides the shared tally by alice (version 1)');
    expect(await run(alice, 'print("got", tally([5, 5]))')).toContain('got 10');
    // A program's own name wins over both.
    expect(await run(bob, 'def tally(xs):\n    return "mine"\nprint(tally([1]))')).toContain('mine');

    // An admin may change a shared skill; the version records who saved it.
    await run(root, 'def tally(xs):\n    return sum(xs) * 10\nsave_tool(tally, shared=True)');
    const listed = await run(
      alice,
      'import mcp.runtime as rt\nprint([(s["name"], s["version"], s.get("author"), s.get("savedBy")) for s in await rt.list_skills()])',
    );
    expect(listed).toContain("('greet', 1, None, 'alice')");
    expect(listed).toContain("('tally', 2, 'alice', 'root')");

    // Publishing from the shell: alice's own greet becomes the team's.
    const published = await cli('skills', 'publish', 'greet', '--principal', 'alice');
    expect(published.stderr).toBe('');
    expect(published.stdout).toContain('Published greet as version 1 of the shared skill greet');
    expect(await run(bob, 'print(greet("bob"))')).toContain('hi bob');
    const listing = await cli('skills', 'list', '--principal', 'bob');
    expect(listing.stdout).toMatch(/greet\(name\) {2}version 1, saved \S+ by alice {2}\[shared by alice\]/);
    expect(listing.stdout).toMatch(
      /tally\(xs\) {2}version 1, saved \S+ by bob {2}\[own; hides the shared one by alice\]/,
    );
  }, 600_000);

  it('writes whose run it was on every audit line', async () => {
    await run(alice, 'print(await mcp_everything.echo(message="from alice"))', { servers: ['everything'] });
    await run(bob, 'print(await mcp_everything.echo(message="from bob"))', { servers: ['everything'] });
    const lines = readFileSync(auditLog, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { principal?: string; tool: string });
    const echoes = lines.filter((line) => line.tool === 'echo').map((line) => line.principal);
    expect(echoes).toEqual(['alice', 'bob']);
    const bobsOnly = await cli('audit', '--principal', 'bob', '--json');
    expect(bobsOnly.status).toBe(0);
    const records = bobsOnly.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { principal: string });
    expect(records.length).toBeGreaterThan(0);
    expect(new Set(records.map((record) => record.principal))).toEqual(new Set(['bob']));
    expect((await cli('audit', '--principal', 'alice')).stdout).toMatch(
      / run-\d+ \(alice\) everything\.echo /,
    );
  }, 300_000);

  it("does not starve one principal's runs while another floods the bridge", async () => {
    const flood = Array.from({ length: 4 }, (_, i) =>
      run(alice, `import time\ntime.sleep(4)\nprint("flood ${i}")`).then((text) => ({
        text,
        at: Date.now(),
      })),
    );
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      expect(await run(bob, `print(${i} + 100)`)).toContain(String(i + 100));
      times.push(Date.now());
    }
    const flooded = await Promise.all(flood);
    expect(flooded.map((done) => done.text)).toEqual(
      [0, 1, 2, 3].map((i) => expect.stringContaining(`flood ${i}`)),
    );
    // Alice's four runs share one slot (16 s of sleeping, one after another); bob's took the other.
    expect(Math.max(...times)).toBeLessThan(Math.max(...flooded.map((done) => done.at)));
  }, 300_000);

  it("closes a principal's vanished clients to make room, and never lets them block another principal", async () => {
    // A short-lived CLI: initialize, then exit without DELETE and without a notification stream.
    const vanish = async (token: string) => {
      const response = await fetch(`${bridge.base}/mcp`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          authorization: `Bearer ${token}`,
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: {
            protocolVersion: '2025-06-18',
            capabilities: {},
            clientInfo: { name: 'cli', version: '0' },
          },
        }),
      });
      await response.body?.cancel();
      return response.status;
    };
    // Twice alice's share of MCP sessions (8): each new one closes her oldest abandoned one.
    const statuses: number[] = [];
    for (let i = 0; i < 16; i++) statuses.push(await vanish(ALICE));
    expect(statuses).toEqual(Array(16).fill(200));
    // Her live client keeps its session (its notification stream is open), and bob is not blocked.
    expect(await run(alice, 'print("still here")')).toContain('still here');
    const late = await bridge.connect({ token: BOB, name: 'bob-late' });
    try {
      expect(await run(late, 'print("bob got in")')).toContain('bob got in');
    } finally {
      await late.close();
    }
  }, 300_000);

  async function principalsSeenBy(browser: Browser, token: string): Promise<string[]> {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${bridge.base}/console`);
      await page.fill('input[name=token]', token);
      await page.click('button[type=submit]');
      await page.waitForSelector('body[data-ready=true]', { timeout: 60_000 });
      await page.locator('#runs li[data-principal]').first().waitFor({ timeout: 30_000 });
      // Locators, not a page function: the console's CSP forbids evaluating strings.
      const items = page.locator('#runs li[data-principal]');
      const seen = new Set<string>();
      for (let i = 0; i < (await items.count()); i++) {
        seen.add((await items.nth(i).getAttribute('data-principal')) ?? '');
      }
      return [...seen].sort();
    } finally {
      await context.close();
    }
  }

  it.skipIf(noChromium !== undefined)(
    `shows a user its own runs in the console and an admin every principal's (Chromium${noChromium ? `, skipped: ${noChromium}` : ''})`,
    async () => {
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox'],
      });
      try {
        expect(await principalsSeenBy(browser, BOB)).toEqual(['bob']);
        expect(await principalsSeenBy(browser, ALICE)).toEqual(['alice']);
        expect(await principalsSeenBy(browser, ROOT)).toEqual(['alice', 'bob', 'root']);
      } finally {
        await browser.close();
      }
    },
    180_000,
  );
});
