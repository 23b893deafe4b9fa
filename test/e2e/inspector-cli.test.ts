/**
 * The MCP Inspector's CLI mode (devDependency @modelcontextprotocol/inspector, run from
 * node_modules, offline) against a real `serve --http`: it lists run_python and calls it. This
 * Inspector version has no option to send headers, so it talks to a loopback bridge without a token,
 * and a bridge with one refuses it.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HttpBridge, startHttpBridge } from '../helpers/http-bridge.js';

const INSPECTOR_CLI = fileURLToPath(
  new URL('../../node_modules/@modelcontextprotocol/inspector-cli/build/index.js', import.meta.url),
);

async function inspector(args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [INSPECTOR_CLI, ...args], {
      timeout: 120_000,
    });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? 1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

describe('MCP Inspector CLI against serve --http', () => {
  let open: HttpBridge;
  let guarded: HttpBridge;
  beforeAll(async () => {
    [open, guarded] = await Promise.all([
      startHttpBridge(['serve', '--http', '0']),
      startHttpBridge(['serve', '--http', '0'], { MCP_BRIDGE_HTTP_TOKEN: 'inspector-token-0123456789' }),
    ]);
  }, 90_000);
  afterAll(async () => {
    await Promise.all([open?.stop(), guarded?.stop()]);
  });

  it('lists run_python and calls it', async () => {
    const list = await inspector([`${open.base}/mcp`, '--transport', 'http', '--method', 'tools/list']);
    expect(list.code, list.output).toBe(0);
    expect(JSON.parse(list.output).tools.map((tool: { name: string }) => tool.name)).toEqual(['run_python']);
    const call = await inspector([
      `${open.base}/mcp`,
      '--transport',
      'http',
      '--method',
      'tools/call',
      '--tool-name',
      'run_python',
      '--tool-arg',
      'code=print(6 * 7)',
      'timeout=90',
    ]);
    expect(call.code, call.output).toBe(0);
    expect(JSON.parse(call.output).structuredContent).toMatchObject({ status: 'ok', stdout: '42\n' });
  }, 150_000);

  it('is refused by a bridge with a token', async () => {
    const list = await inspector([`${guarded.base}/mcp`, '--transport', 'http', '--method', 'tools/list']);
    expect(list.code).not.toBe(0);
    expect(list.output).toMatch(/Unauthorized/);
  }, 60_000);
});
