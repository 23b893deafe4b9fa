/**
 * Named sessions and saved values through the real bridge and a real MCP client, on a container
 * sandbox and on the embedded one: state survives between calls of a session and nowhere else, a
 * timeout or an exit ends the session and the next call says the state was lost, list/reset from
 * mcp.runtime and the resource, the cap, idle expiry, grants checked per call, save/load across
 * sessions and fresh runs, two clients apart (two bridges over stdio, two principals over HTTP, whose
 * own MCP sessions share their state until the principal has gone), a session that runs out of its
 * own memory limit (MCP_BRIDGE_SESSION_MEMORY).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBridge, startBridge } from '../helpers/bridge.js';
import { bothSandboxBackends } from '../helpers/environment.js';
import {
  type HttpBridge,
  runPython,
  startHttpBridge,
  textOf,
  writeTokensFile,
} from '../helpers/http-bridge.js';
import { createTestHome, standardServers, type TestHome } from '../helpers/upstreams.js';

const stateDir = mkdtempSync(join(tmpdir(), 'sessions-state-'));

const backends = bothSandboxBackends(stateDir);

afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

const RESET_ALL =
  'import mcp.runtime as rt\nfor s in await rt.list_sessions():\n    await rt.reset_session(s["name"])';

for (const backend of backends) {
  describe.skipIf(backend.skip)(
    `sessions on the ${backend.name} sandbox${backend.skip ? ` (skipped: ${backend.skip})` : ''}`,
    () => {
      let bridge: RunningBridge;
      let home: TestHome;
      const env = () => ({
        ...backend.env,
        HOME: home.home,
        MCP_BRIDGE_MAX_SESSIONS: '3',
        MCP_BRIDGE_SESSION_IDLE_TIMEOUT: '60',
        MCP_BRIDGE_SAVE_MAX_SIZE: '16m',
      });

      beforeAll(async () => {
        home = createTestHome();
        home.write('.claude.json', { mcpServers: standardServers(home.home, 'session-secret') });
        bridge = await startBridge(env(), { cwd: home.project });
      }, 120_000);
      afterAll(async () => {
        await bridge?.close();
        home?.cleanup();
      });

      it('keeps globals, imports and /workspace files between calls of one session, and nowhere else', async () => {
        const first = await bridge.runPython({
          session: 'a',
          code: 'import json\nx = 41\nopen("/workspace/note.txt", "w").write("kept")\nprint("set")',
        });
        expect(first.structured.status).toBe('ok');
        expect(first.structured.session).toMatchObject({ name: 'a', state: 'new', runs: 1 });
        const second = await bridge.runPython({
          session: 'a',
          code: 'print(x + 1, json.dumps([1]), open("/workspace/note.txt").read())',
        });
        expect(second.structured.stdout).toBe('42 [1] kept\n');
        expect(second.structured.session).toMatchObject({ state: 'resumed', runs: 2 });
        const failing = await bridge.runPython({ session: 'a', code: 'print("partial")\n1/0' });
        expect(failing.structured.status).toBe('error');
        expect(failing.structured.stdout).toBe('partial\n');
        const last = await bridge.runPython({ session: 'a', code: 'x' });
        expect(last.structured.stdout).toBe('41\n');

        const other = await bridge.runPython({ session: 'b', code: 'print("x" in globals())' });
        expect(other.structured.stdout).toBe('False\n');
        const fresh = await bridge.runPython({
          code: 'import os\nprint("x" in globals(), os.path.exists("/workspace/note.txt"))',
        });
        expect(fresh.structured.stdout).toBe('False False\n');
        expect(fresh.structured.session).toBeUndefined();
        await bridge.runPython({ code: RESET_ALL });
      }, 120_000);

      it('runs the calls of one session one after another', async () => {
        const calls = await Promise.all(
          [1, 2, 3].map((n) =>
            bridge.runPython({
              session: 'queue',
              code: `import asyncio\nlog = globals().get("log", [])\nlog.append(${n})\nawait asyncio.sleep(0.2)\nprint(len(log))`,
            }),
          ),
        );
        expect(calls.map((call) => call.structured.stdout).sort()).toEqual(['1\n', '2\n', '3\n']);
        await bridge.runPython({ code: RESET_ALL });
      }, 120_000);

      it('ends a session on timeout and says so on the next call', async () => {
        await bridge.runPython({ session: 'slow', code: 'y = 1' });
        const timedOut = await bridge.runPython({
          session: 'slow',
          code: 'import time\ntime.sleep(30)',
          timeout: 1,
        });
        expect(timedOut.structured.status).toBe('timeout');
        expect(timedOut.structured.session?.ended).toMatch(/timeout/);
        expect(timedOut.text).toMatch(/session slow ended: .*state is lost/);
        const next = await bridge.runPython({ session: 'slow', code: 'print("y" in globals())' });
        expect(next.structured.stdout).toBe('False\n');
        expect(next.structured.session).toMatchObject({ state: 'restarted' });
        expect(next.structured.session?.lost).toMatch(/timeout/);
        expect(next.text).toMatch(/previous state was lost/);
        await bridge.runPython({ code: RESET_ALL });
      }, 120_000);

      it('ends a session whose program exits its process', async () => {
        await bridge.runPython({ session: 'exits', code: 'z = 1' });
        const exited = await bridge.runPython({ session: 'exits', code: 'import os\nos._exit(3)' });
        expect(exited.structured.status).toBe('error');
        const next = await bridge.runPython({ session: 'exits', code: 'print("z" in globals())' });
        expect(next.structured.stdout).toBe('False\n');
        expect(next.structured.session?.state).toBe('restarted');
        await bridge.runPython({ code: RESET_ALL });
      }, 120_000);

      it('lists, resets and caps sessions; the resource shows them', async () => {
        for (const name of ['s1', 's2', 's3']) {
          expect((await bridge.runPython({ session: name, code: 'v = 1' })).structured.status).toBe('ok');
        }
        const refused = await bridge.runPython({ session: 's4', code: 'v = 1' });
        expect(refused.isError).toBe(true);
        expect(refused.text).toMatch(/Too many sessions \(MCP_BRIDGE_MAX_SESSIONS=3\); yours: s1, s2, s3/);
        const listed = await bridge.runPython({
          code: 'import mcp.runtime as rt\nprint(sorted(s["name"] for s in await rt.list_sessions()))',
        });
        expect(listed.structured.stdout).toBe("['s1', 's2', 's3']\n");
        const resource = await bridge.client.readResource({ uri: 'codemode://sessions' });
        expect(JSON.stringify(resource.contents)).toMatch(/s1: 1 runs/);
        const reset = await bridge.runPython({
          code: 'import mcp.runtime as rt\nprint(await rt.reset_session("s1"), await rt.reset_session("nope"))',
        });
        expect(reset.structured.stdout).toBe('True False\n');
        const own = await bridge.runPython({
          session: 's2',
          code: 'import mcp.runtime as rt\nawait rt.reset_session("s2")',
        });
        expect(own.structured.error).toMatch(/cannot reset session 's2' from a program running in it/);
        const after = await bridge.runPython({ session: 's1', code: 'print("v" in globals())' });
        expect(after.structured.session?.lost).toMatch(/reset/);
        await bridge.runPython({ code: RESET_ALL });
      }, 120_000);

      it('checks grants per call: a tool kept from an earlier call of the session is refused without its grant', async () => {
        const granted = await bridge.runPython({
          session: 'grants',
          servers: ['everything'],
          code: 'echo = mcp_everything.echo\nprint(await echo(message="hi"))',
        });
        expect(granted.structured.status).toBe('ok');
        const refused = await bridge.runPython({
          session: 'grants',
          code: 'print("mcp_everything" in globals())\nawait echo(message="again")',
        });
        expect(refused.structured.stdout).toBe('False\n');
        expect(refused.structured.error).toMatch(/not granted to this run/);
        await bridge.runPython({ code: RESET_ALL });
      }, 120_000);

      it('saves and loads values across fresh runs and sessions, within the size cap', async () => {
        const saved = await bridge.runPython({
          code: 'import mcp.runtime as rt\ndata = {"rows": list(range(1000)), "blob": b"x" * (5 * 1024 * 1024)}\nprint(await rt.save("data", data))',
        });
        expect(saved.structured.stdout).toMatch(/'name': 'data', 'bytes': \d+/);
        const loaded = await bridge.runPython({
          session: 'loader',
          code: 'import mcp.runtime as rt\nd = await rt.load("data")\nprint(sum(d["rows"]), len(d["blob"]), [v["name"] for v in await rt.list_saved()])',
        });
        expect(loaded.structured.stdout).toBe("499500 5242880 ['data']\n");
        const big = await bridge.runPython({
          code: 'import mcp.runtime as rt\nawait rt.save("big", b"x" * (17 * 1024 * 1024))',
        });
        expect(big.structured.error).toMatch(/at most 16\.0 MiB \(MCP_BRIDGE_SAVE_MAX_SIZE\)/);
        const missing = await bridge.runPython({
          code: 'import mcp.runtime as rt\nprint(await rt.delete_saved("data"))\nawait rt.load("data")',
        });
        expect(missing.structured.stdout).toBe('True\n');
        expect(missing.structured.error).toMatch(/nothing is saved under that name/);
        await bridge.runPython({ code: RESET_ALL });
      }, 120_000);

      it("keeps two clients' sessions and values apart; idle sessions expire", async () => {
        const second = await startBridge(
          { ...env(), MCP_BRIDGE_SESSION_IDLE_TIMEOUT: '2' },
          { cwd: home.project },
        );
        try {
          await bridge.runPython({ session: 'shared', code: 'secret = 7' });
          await bridge.runPython({ code: 'import mcp.runtime as rt\nawait rt.save("mine", 1)' });
          const other = await second.runPython({
            session: 'shared',
            code: 'import mcp.runtime as rt\nprint("secret" in globals(), await rt.list_saved())',
          });
          expect(other.structured.stdout).toBe('False []\n');
          await second.runPython({ session: 'idle', code: 'w = 1' });
          await new Promise((resolve) => setTimeout(resolve, 3000));
          const expired = await second.runPython({ session: 'idle', code: 'print("w" in globals())' });
          expect(expired.structured.stdout).toBe('False\n');
          expect(expired.structured.session?.lost).toMatch(/idle for 2 s/);
        } finally {
          await second.close();
        }
        await bridge.runPython({ code: RESET_ALL });
      }, 120_000);
    },
  );
}

for (const backend of backends) {
  describe.skipIf(backend.skip)(
    `a session's memory limit on the ${backend.name} sandbox${backend.skip ? ` (skipped: ${backend.skip})` : ''}`,
    () => {
      let bridge: RunningBridge;
      beforeAll(async () => {
        bridge = await startBridge({ ...backend.env, MCP_BRIDGE_SESSION_MEMORY: '128m' });
      }, 120_000);
      afterAll(async () => {
        await bridge?.close();
      });

      it('ends a session that runs out of MCP_BRIDGE_SESSION_MEMORY and says so; runs without session keep MCP_BRIDGE_MEMORY', async () => {
        const fresh = await bridge.runPython({ code: 'print(len(b"x" * (200 * 1024 * 1024)))' });
        expect(fresh.structured.stdout).toBe(`${200 * 1024 * 1024}\n`);
        expect((await bridge.runPython({ session: 'big', code: 'kept = 1' })).structured.status).toBe('ok');
        const over = await bridge.runPython({ session: 'big', code: 'data = b"x" * (200 * 1024 * 1024)' });
        // A container is killed by the kernel at its limit; Pyodide raises MemoryError at its heap cap.
        expect(over.structured.status).toBe(backend.name === 'container' ? 'killed' : 'error');
        expect(over.structured.session?.ended).toMatch(/MCP_BRIDGE_SESSION_MEMORY=128m/);
        expect(over.text).toMatch(/session big ended: .*state is lost/);
        const next = await bridge.runPython({ session: 'big', code: 'print("kept" in globals())' });
        expect(next.structured.stdout).toBe('False\n');
        expect(next.structured.session).toMatchObject({ state: 'restarted' });
        expect(next.structured.session?.lost).toMatch(/MCP_BRIDGE_SESSION_MEMORY=128m/);
        expect(next.text).toMatch(/previous state was lost/);
      }, 120_000);
    },
  );
}

describe('sessions over HTTP (embedded sandbox)', () => {
  const ALICE = 'alice-token-0123456789abcdef';
  const BOB = 'bob-token-0123456789abcdefgh';
  let bridge: HttpBridge;
  beforeAll(async () => {
    const tokens = writeTokensFile(stateDir, [
      { name: 'alice', token: ALICE },
      { name: 'bob', token: BOB },
    ]);
    bridge = await startHttpBridge(['serve', '--http', '0'], {
      MCP_BRIDGE_STATE_DIR: stateDir,
      MCP_BRIDGE_HTTP_TOKENS_FILE: tokens,
      MCP_BRIDGE_HTTP_PRINCIPAL_IDLE: '2',
    });
  }, 60_000);
  afterAll(async () => {
    await bridge?.stop();
  });

  it("keeps principals' named sessions and saved values apart; a principal's MCP sessions share them until it has gone", async () => {
    const [a1, a2, b] = await Promise.all([
      bridge.connect({ token: ALICE, name: 'a1' }),
      bridge.connect({ token: ALICE, name: 'a2' }),
      bridge.connect({ token: BOB, name: 'b' }),
    ]);
    const out = async (client: Client, args: Record<string, unknown>) =>
      textOf(await runPython(client, { timeout: 90, ...args }));
    await out(a1, {
      session: 'work',
      code: 'import mcp.runtime as rt\nsecret = 7\nawait rt.save("mine", 1)',
    });
    // Another MCP session of the same principal reaches the session and the value.
    expect(
      await out(a2, {
        session: 'work',
        code: 'import mcp.runtime as rt\nprint(secret, await rt.load("mine"))',
      }),
    ).toBe('7 1');
    // Another principal's session of the same name is its own.
    expect(
      await out(b, {
        session: 'work',
        code: 'import mcp.runtime as rt\nprint("secret" in globals(), await rt.list_saved())',
      }),
    ).toBe('False []');
    const listed = await b.readResource({ uri: 'codemode://sessions' });
    expect(JSON.stringify(listed.contents)).toMatch(/work: 1 runs/);
    // Closing one MCP session of alice's leaves her state to the other.
    await (a1.transport as StreamableHTTPClientTransport).terminateSession();
    await a1.close();
    expect(await out(a2, { session: 'work', code: 'print(secret)' })).toBe('7');
    // Once all of her MCP sessions have closed, and MCP_BRIDGE_HTTP_PRINCIPAL_IDLE has passed, she has gone.
    await (a2.transport as StreamableHTTPClientTransport).terminateSession();
    await a2.close();
    await expect
      .poll(() => bridge.stderr(), { timeout: 30_000, interval: 200 })
      .toMatch(/a principal has gone: ending what it left .*principal=alice/);
    const a3 = await bridge.connect({ token: ALICE, name: 'a3' });
    expect(
      await out(a3, {
        code: 'import mcp.runtime as rt\nprint(await rt.list_sessions(), await rt.list_saved())',
      }),
    ).toBe('[] []');
    // Bob, connected all along, kept his.
    expect(await out(b, { session: 'work', code: 'print("still", "secret" in globals())' })).toBe(
      'still False',
    );
    for (const client of [b, a3]) {
      await (client.transport as StreamableHTTPClientTransport).terminateSession();
      await client.close();
    }
  }, 180_000);
});

describe('output beyond the cap kept as a handle (embedded sandbox)', () => {
  let bridge: RunningBridge;
  /** Keeps 20,000 characters of each run's stdout, for 8 s (MCP_BRIDGE_KEEP_OUTPUT_*). */
  let bounded: RunningBridge;
  beforeAll(async () => {
    const capped = {
      MCP_BRIDGE_RUNTIME: 'embedded',
      MCP_BRIDGE_STATE_DIR: stateDir,
      MCP_BRIDGE_MAX_OUTPUT_CHARS: '1000',
    };
    [bridge, bounded] = await Promise.all([
      startBridge(capped),
      startBridge({
        ...capped,
        MCP_BRIDGE_KEEP_OUTPUT_CHARS: '20000',
        MCP_BRIDGE_KEEP_OUTPUT_TTL: '8',
        // A slow first start (a snapshot still building) must not turn the result into a wait handle.
        MCP_BRIDGE_YIELD_AFTER: '0',
      }),
    ]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([bridge?.close(), bounded?.close()]);
  });

  /** Prints 5,000 lines of 11 characters (55,000 in all); the result and its output handle. */
  async function printLines(on: RunningBridge) {
    const result = await on.runPython({ code: 'for i in range(5000):\n    print(f"line {i:05d}")' });
    type Kept = { handle: string; keptChars: number; totalChars: number };
    return { result, output: (result.structuredContent as { output?: Kept }).output };
  }
  const readOutput = (handle: string | undefined, offset: number, length: number) =>
    `import mcp.runtime as rt\npage = await rt.read_output(${JSON.stringify(handle)}, ${offset}, ${length})\nprint(repr(page["text"]), page["totalChars"])`;

  it('says how to page through elided stdout, and read_output returns it', async () => {
    const { result: big, output } = await printLines(bridge);
    expect(big.structured.status).toBe('ok');
    expect(big.structured.truncated?.stdout).toBeGreaterThan(0);
    expect(output?.totalChars).toBe(5000 * 11);
    expect(big.text).toMatch(
      /\[full stdout kept as out-\d+, 55,000 characters: page with `await mcp\.runtime\.read_output/,
    );
    const page = await bridge.runPython({ code: readOutput(output?.handle, 11 * 2500, 22) });
    expect(page.structured.stdout).toBe("'line 02500\\nline 02501\\n' 55000\n");
    const missing = await bridge.runPython({
      code: 'import mcp.runtime as rt\nawait rt.read_output("out-999")',
    });
    expect(missing.structured.error).toMatch(/no such output/);
  }, 120_000);

  it('keeps the first MCP_BRIDGE_KEEP_OUTPUT_CHARS of stdout, for MCP_BRIDGE_KEEP_OUTPUT_TTL seconds', async () => {
    const { result: big, output } = await printLines(bounded);
    expect(output).toMatchObject({ keptChars: 20_000, totalChars: 55_000 });
    expect(big.text).toMatch(
      /\[full stdout kept as out-\d+ \(its first 20,000 characters\), 55,000 characters/,
    );
    const read = readOutput(output?.handle, 19_990, 100);
    expect((await bounded.runPython({ code: read })).structured.stdout).toBe("'e 01817\\nli' 55000\n");
    const expiry = async () => (await bounded.runPython({ code: read })).structured.error ?? '';
    await expect
      .poll(expiry, { timeout: 30_000, interval: 1000 })
      .toMatch(/no such output; handles expire 8 s after their run/);
  }, 120_000);
});

describe('files returned to the client (embedded sandbox)', () => {
  let bridge: RunningBridge;
  beforeAll(async () => {
    bridge = await startBridge({ MCP_BRIDGE_RUNTIME: 'embedded', MCP_BRIDGE_STATE_DIR: stateDir });
  }, 120_000);
  afterAll(async () => {
    await bridge?.close();
  });

  it('returns an image as image content, another file as an embedded resource, active content as opaque bytes', async () => {
    const result = await bridge.runPython({
      code: [
        'import mcp.runtime as rt',
        'png = b"\\x89PNG\\r\\n\\x1a\\n" + b"\\x00" * 16',
        'await rt.attach(png, "image/png")',
        'open("/workspace/table.csv", "w").write("a,b\\n1,2\\n")',
        'await rt.attach("/workspace/table.csv")',
        'print("attached")',
      ].join('\n'),
    });
    expect(result.structured.status).toBe('ok');
    const [text, image, file] = result.content;
    expect(text).toMatchObject({ type: 'text', text: 'attached' });
    expect(image).toMatchObject({ type: 'image', mimeType: 'image/png' });
    expect(
      Buffer.from((image as { data: string }).data, 'base64')
        .subarray(1, 4)
        .toString(),
    ).toBe('PNG');
    expect(file).toMatchObject({
      type: 'resource',
      resource: { mimeType: 'text/csv', uri: 'codemode://attachments/2/table.csv' },
    });
    expect(Buffer.from((file as { resource: { blob: string } }).resource.blob, 'base64').toString()).toBe(
      'a,b\n1,2\n',
    );
    // Active content never goes as an image, nor under a type a client would render.
    const active = await bridge.runPython({
      code: [
        'import mcp.runtime as rt',
        'svg = b\'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="9" height="9"/></svg>\'',
        'open("/workspace/plot.svg", "wb").write(svg)',
        'await rt.attach("/workspace/plot.svg")',
        'await rt.attach(b"<script>alert(1)</script>", "text/html", name="page.html")',
        'await rt.attach(b"<html><script>alert(1)</script></html>", "image/png", name="fake.png")',
      ].join('\n'),
    });
    expect(active.structured.status).toBe('ok');
    expect(active.content.slice(1)).toEqual(
      [
        ['plot.svg', 'image/svg+xml'],
        ['page.html', 'text/html'],
        ['fake.png', 'image/png'],
      ].map(([name, declared], index) => ({
        type: 'resource',
        resource: {
          uri: `codemode://attachments/${index + 1}/${name}`,
          mimeType: 'application/octet-stream',
          blob: expect.any(String),
          _meta: { 'codemode-bridge/declaredMimeType': declared },
        },
      })),
    );
    const refused = await bridge.runPython({
      code: 'import mcp.runtime as rt\nfor _ in range(2):\n    await rt.attach(b"x" * (3 * 1024 * 1024), "application/octet-stream")',
    });
    expect(refused.structured.error).toMatch(/at most 5 MiB of files together/);
  }, 120_000);
});
