/**
 * A bridge whose stderr reader has gone (the client that started it died, leaving stderr a socket
 * nobody reads) goes on serving without a word there: before, the first log line's EPIPE became an
 * uncaught exception, whose log line failed the same way, in a loop that kept an orphaned bridge busy
 * and growing for as long as it lived.
 */
import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningBridge, startBridge } from '../helpers/bridge.js';

describe('a bridge whose stderr is broken', () => {
  let bridge: RunningBridge | undefined;
  afterEach(async () => {
    await bridge?.close();
  });

  it('drops its log lines and serves on, with no exception loop', async () => {
    // Every run logs at debug, so each one writes to stderr.
    bridge = await startBridge({ MCP_BRIDGE_RUNTIME: 'monty', MCP_BRIDGE_LOG_LEVEL: 'debug' });
    expect((await bridge.runPython({ code: 'print(1)' })).structured.status).toBe('ok');
    // The bridge's end of stderr is the child's stream inside the SDK's transport: closing ours makes
    // every write the bridge makes there fail with EPIPE, as a dead client's would.
    const child = (bridge.transport as unknown as { _process?: ChildProcess })._process;
    child?.stderr?.destroy();
    for (let i = 0; i < 3; i++) {
      const run = await bridge.runPython({ code: `print(${i})` });
      expect(run.structured).toMatchObject({ status: 'ok', stdout: `${i}\n` });
    }
    // The loop logged each failure at error level, which the MCP client is sent too.
    expect(bridge.logs().filter((log) => JSON.stringify(log.data).includes('uncaught'))).toEqual([]);
  });
});
