/**
 * Long runs through the real bridge and a real MCP client, on a container sandbox and on the embedded
 * one: a run still going at its yield point returns its output so far and a `wait` handle; each wait
 * returns what was printed since, and finally the result, with nothing lost between; progress
 * notifications go on while a client waits; the run's own timeout still kills it; a session stays
 * busy until its run ends; cancelling a wait ends the run; unknown handles are refused clearly, and
 * over HTTP one principal cannot wait on another's run, while its own other MCP sessions can.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBridge, type RunResult, startBridge } from '../helpers/bridge.js';
import { bothSandboxBackends } from '../helpers/environment.js';
import {
  type HttpBridge,
  runPython,
  startHttpBridge,
  textOf,
  writeTokensFile,
} from '../helpers/http-bridge.js';

const stateDir = mkdtempSync(join(tmpdir(), 'long-runs-state-'));

const backends = bothSandboxBackends(stateDir);

afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

/** The worked example of docs/guide.md's "Long runs" section: its first python block. */
function guideExample(): string {
  const guide = readFileSync(new URL('../../docs/guide.md', import.meta.url), 'utf8');
  const section = guide.slice(guide.indexOf('### Long runs'));
  const block = /```python\n([\s\S]*?)^```/m.exec(section);
  if (!block?.[1]) throw new Error('docs/guide.md has no python block under "### Long runs"');
  return block[1];
}

/** Whether the call returned while its run goes on (`status: running`, not a `RunOutcome` status). */
const isRunning = (result: RunResult) => (result.structured.status as string) === 'running';

/** The handle a yielded call returned. */
function handleOf(result: RunResult): string {
  const handle = (result.structuredContent as { wait?: unknown }).wait;
  if (typeof handle !== 'string') throw new Error(`no wait handle in ${result.text}`);
  return handle;
}

/** Waits on a yielded run until it ends: every piece of stdout in order, and the last result. */
async function waitForEnd(
  bridge: RunningBridge,
  first: RunResult,
  yieldAfter?: number,
): Promise<{ pieces: string[]; last: RunResult }> {
  const pieces = [first.structured.stdout];
  let last = first;
  for (let calls = 0; isRunning(last) && calls < 100; calls++) {
    last = await bridge.runPython({
      wait: handleOf(first),
      ...(yieldAfter !== undefined ? { yield_after: yieldAfter } : {}),
    });
    pieces.push(last.structured.stdout);
  }
  return { pieces, last };
}

for (const backend of backends) {
  describe.skipIf(backend.skip)(
    `long runs on the ${backend.name} sandbox${backend.skip ? ` (skipped: ${backend.skip})` : ''}`,
    () => {
      let bridge: RunningBridge;

      beforeAll(async () => {
        bridge = await startBridge(backend.env);
      }, 120_000);
      afterAll(async () => {
        await bridge?.close();
      });

      it('returns a run still going with its output so far; each wait returns what was printed since, then the result', async () => {
        const first = await bridge.runPython({
          code: 'import time\nfor i in range(12):\n    print(i, flush=True)\n    time.sleep(0.25)\nprint("done")',
          yield_after: 1,
          timeout: 60,
        });
        // The program sleeps 3 s in all, so one second into the call it is still going.
        expect(isRunning(first)).toBe(true);
        expect(first.isError).toBeFalsy();
        const handle = handleOf(first);
        expect(handle).toMatch(/^job-\d+$/);
        expect(first.text).toContain(`call run_python with wait="${handle}"`);
        const { pieces, last } = await waitForEnd(bridge, first, 0.5);
        expect(last.structured.status).toBe('ok');
        expect(pieces.join('')).toBe(`${Array.from({ length: 12 }, (_, i) => `${i}\n`).join('')}done\n`);
        // Its result has been returned: the handle is gone.
        const again = await bridge.runPython({ wait: handle });
        expect(again.isError).toBe(true);
        expect(again.text).toMatch(new RegExp(`No run is waiting under wait="${handle}"`));
      }, 120_000);

      it("runs the guide's worked example as the guide says", async () => {
        const first = await bridge.runPython({ session: 'sales', yield_after: 2, code: guideExample() });
        expect(isRunning(first)).toBe(true);
        expect(first.text).toMatch(
          /^(month \d: \d+\n)*\[still running after [\d.]+ s \(its timeout: 30 s\): call run_python with wait="job-\d+" for the output since and the result\]$/,
        );
        const { pieces, last } = await waitForEnd(bridge, first);
        expect(last.structured.status).toBe('ok');
        expect(pieces.join('')).toBe(
          [1, 2, 3, 4, 5, 6].map((month) => `month ${month}: ${month * 100}\n`).join(''),
        );
        const kept = await bridge.runPython({ session: 'sales', code: 'totals[6]' });
        expect(kept.text).toBe('600');
        await bridge.runPython({ code: 'import mcp.runtime as rt\nawait rt.reset_session("sales")' });
      }, 120_000);

      it("sends progress while a client waits, and the run's own timeout still kills it", async () => {
        const first = await bridge.runPython({
          code: 'import time\nprint("start", flush=True)\ntime.sleep(30)\nprint("never")',
          yield_after: 0.5,
          timeout: 5,
        });
        expect(isRunning(first)).toBe(true);
        let progress = 0;
        const ended = await bridge.runPython(
          { wait: handleOf(first), yield_after: 0 },
          { onprogress: () => progress++ },
        );
        expect(ended.structured.status).toBe('timeout');
        expect(ended.structured.error).toMatch(/Timed out after 5 s; the sandbox was killed/);
        expect(ended.structured.stdout).not.toContain('never');
        expect(progress).toBeGreaterThan(0);
      }, 120_000);

      it('keeps a session busy until its run ends; the next call of the session waits and sees its state', async () => {
        const first = await bridge.runPython({
          session: 'long',
          code: 'import time\nx = 1\ntime.sleep(3)\nx = 2\nprint("set")',
          yield_after: 0.5,
        });
        expect(isRunning(first)).toBe(true);
        const listed = await bridge.runPython({
          code: 'import mcp.runtime as rt\nprint([(s["name"], s["busy"]) for s in await rt.list_sessions()])',
        });
        expect(listed.structured.stdout).toBe("[('long', True)]\n");
        const next = await bridge.runPython({ session: 'long', code: 'print(x)' });
        expect(next.structured.stdout).toBe('2\n');
        const result = await bridge.runPython({ wait: handleOf(first) });
        expect(result.structured).toMatchObject({ status: 'ok', stdout: 'set\n' });
        await bridge.runPython({
          code: 'import mcp.runtime as rt\nawait rt.reset_session("long")',
        });
      }, 120_000);

      it('ends the run when the client cancels its wait', async () => {
        const first = await bridge.runPython({
          session: 'cancelled',
          code: 'import time\ny = 1\ntime.sleep(60)',
          yield_after: 0.5,
          timeout: 90,
        });
        expect(isRunning(first)).toBe(true);
        const controller = new AbortController();
        const waiting = bridge.runPython({ wait: handleOf(first) }, { signal: controller.signal });
        setTimeout(() => controller.abort(new Error('the user pressed stop')), 500);
        await expect(waiting).rejects.toThrow();
        // The session's turn comes once the run has ended, and its state went with it.
        const next = await bridge.runPython({ session: 'cancelled', code: 'print("y" in globals())' });
        expect(next.structured.stdout).toBe('False\n');
        expect(next.structured.session?.lost).toMatch(/cancelled/);
        await bridge.runPython({
          code: 'import mcp.runtime as rt\nawait rt.reset_session("cancelled")',
        });
      }, 120_000);

      it('refuses a wait on an unknown handle, and a call with neither code nor wait', async () => {
        const unknown = await bridge.runPython({ wait: 'job-999' });
        expect(unknown.isError).toBe(true);
        expect(unknown.text).toMatch(
          /No run is waiting under wait="job-999": a handle is good until its run's result has been returned/,
        );
        const neither = await bridge.runPython({ timeout: 5 });
        expect(neither.isError).toBe(true);
        expect(neither.text).toMatch(/run_python needs `code`/);
        const both = await bridge.runPython({ code: 'print(1)', wait: 'job-1' });
        expect(both.text).toMatch(/either `code` .* or `wait`/);
        // Past 2^31 ms a timer fires at once: such a run yielded before it had begun.
        for (const yieldAfter of [2 ** 31 / 1000 + 1, 121]) {
          const far = await bridge.runPython({ code: 'print("ran")', yield_after: yieldAfter });
          expect(far.isError).toBe(true);
          expect(far.text).toBe(
            `Invalid arguments for run_python: yield_after=${yieldAfter} s is longer than a run may last (120 s, MCP_BRIDGE_MAX_TIMEOUT), ` +
              "so the run would end before it yields. Pass at most 120, or 0 to wait for the run's end.",
          );
        }
        expect((await bridge.runPython({ code: 'print("ran")', yield_after: 120 })).text).toBe('ran');
      }, 60_000);
    },
  );
}

describe('long runs over HTTP (embedded sandbox)', () => {
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
      MCP_BRIDGE_YIELD_AFTER: '1',
      // 'run finished … status=…' lines show a run ended after its client had gone.
      MCP_BRIDGE_LOG_LEVEL: 'debug',
    });
  }, 60_000);
  afterAll(async () => {
    await bridge?.stop();
  });

  it("keeps one principal's handles from another; its other MCP sessions may wait on them", async () => {
    const [a, a2, b] = await Promise.all([
      bridge.connect({ token: ALICE, name: 'a' }),
      bridge.connect({ token: ALICE, name: 'a2' }),
      bridge.connect({ token: BOB, name: 'b' }),
    ]);
    const first = await runPython(a, { code: 'import time\ntime.sleep(3)\nprint("mine")', timeout: 90 });
    const handle = (first.structuredContent as { wait?: string }).wait;
    expect(handle).toMatch(/^job-\d+$/);
    const stolen = await runPython(b, { wait: handle });
    expect(stolen.isError).toBe(true);
    expect(textOf(stolen)).toMatch(/No run is waiting under/);
    let result = await runPython(a2, { wait: handle, yield_after: 0 });
    expect(result.structuredContent).toMatchObject({ status: 'ok', stdout: 'mine\n' });
    result = await runPython(a, { wait: handle });
    expect(result.isError).toBe(true);
    for (const client of [a, a2, b]) {
      await (client.transport as StreamableHTTPClientTransport).terminateSession();
      await client.close();
    }
  }, 180_000);

  it('ends the runs a client left going when its MCP session closes', async () => {
    const client = await bridge.connect({ token: ALICE, name: 'leaves' });
    const first = await runPython(client, { code: 'import time\ntime.sleep(60)', timeout: 90 });
    expect((first.structuredContent as { status: string }).status).toBe('running');
    expect(bridge.stderr()).not.toMatch(/run finished .*status=cancelled/);
    await (client.transport as StreamableHTTPClientTransport).terminateSession();
    await client.close();
    await expect
      .poll(() => bridge.stderr(), { timeout: 30_000, interval: 200 })
      .toMatch(/run finished .*status=cancelled/);
  }, 120_000);
});
