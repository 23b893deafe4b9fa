import { ErrorCode, ListPromptsResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBridge, startBridge } from '../helpers/bridge.js';
import { containerSupport, containersOwnedBy, eventually } from '../helpers/environment.js';

const { skipReason } = containerSupport();

describe.skipIf(skipReason)(
  `run_python through MCP stdio${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let bridge: RunningBridge;

    beforeAll(async () => {
      bridge = await startBridge({ MCP_BRIDGE_MAX_TIMEOUT: '5' });
    });
    afterAll(async () => {
      await bridge?.close();
      // Nothing of ours survives the bridge: warm sandboxes included.
      expect(await eventually(() => containersOwnedBy(bridge.pid).length === 0)).toBe(true);
    });

    it('lists exactly one tool with a usable description and schema', async () => {
      const { tools } = await bridge.client.listTools();
      expect(tools.map((tool) => tool.name)).toEqual(['run_python']);
      const [tool] = tools;
      expect(tool?.description).toMatch(/sandbox/i);
      expect(tool?.description).toMatch(/await/);
      expect(Object.keys(tool?.inputSchema.properties ?? {}).sort()).toEqual([
        'code',
        'servers',
        'session',
        'timeout',
        'wait',
        'yield_after',
      ]);
      // `code` or `wait`: the handler says which is missing.
      expect(tool?.inputSchema.required).toBeUndefined();
      expect(tool?.outputSchema?.properties).toHaveProperty('status');
    });

    it('returns stdout as compact text and a structured result', async () => {
      const result = await bridge.runPython({ code: 'print(6*7)' });
      expect(result.isError).toBeFalsy();
      expect(result.text).toBe('42');
      expect(result.structured).toMatchObject({ status: 'ok', stdout: '42\n', stderr: '' });
      expect(result.structured.durationMs).toBeGreaterThanOrEqual(0);
    });

    it('supports top-level await and shows a final expression like a notebook', async () => {
      const result = await bridge.runPython({
        code: 'import asyncio\nawait asyncio.sleep(0.01)\nvalues = await asyncio.gather(*(asyncio.sleep(0, i) for i in range(3)))\nvalues',
      });
      expect(result.text).toBe('[0, 1, 2]');
    });

    it('reports an exception with a short traceback and isError', async () => {
      const result = await bridge.runPython({
        code: 'import sys\nprint("before")\nprint("warn", file=sys.stderr)\n1/0',
      });
      expect(result.isError).toBe(true);
      expect(result.structured.status).toBe('error');
      expect(result.structured.error).toBe('ZeroDivisionError: division by zero');
      expect(result.structured.traceback).toContain('File "<run_python>", line 4');
      expect(result.structured.traceback).not.toContain('codemode_runtime');
      expect(result.text).toBe(`before\n[stderr]\nwarn\n[error]\n${result.structured.traceback?.trimEnd()}`);
    });

    it('reports a syntax error', async () => {
      const result = await bridge.runPython({ code: 'def broken(:\n  pass' });
      expect(result.isError).toBe(true);
      expect(result.structured.error).toMatch(/^SyntaxError/);
    });

    it('treats sys.exit(0) as success and sys.exit(3) as failure', async () => {
      expect(
        (await bridge.runPython({ code: 'import sys\nprint("x")\nsys.exit(0)' })).structured.status,
      ).toBe('ok');
      const failed = await bridge.runPython({ code: 'import sys\nsys.exit(3)' });
      expect(failed.structured).toMatchObject({ status: 'error', error: 'SystemExit: 3' });
    });

    it('says so when a successful run printed nothing', async () => {
      const result = await bridge.runPython({ code: 'x = 1' });
      expect(result.text).toBe('(no output)');
    });

    it('rejects bad arguments with a clear tool error', async () => {
      const missing = await bridge.client.callTool({ name: 'run_python', arguments: {} });
      expect(missing.isError).toBe(true);
      expect(JSON.stringify(missing.content)).toMatch(/run_python needs `code` \(Python source\), or `wait`/);
      const negative = await bridge.client.callTool({
        name: 'run_python',
        arguments: { code: 'print(1)', timeout: -1 },
      });
      expect(negative.isError).toBe(true);
      expect(JSON.stringify(negative.content)).toMatch(/timeout must be at least 0.1 seconds/);
      const wrongType = await bridge.client.callTool({
        name: 'run_python',
        arguments: { code: 'print(1)', servers: 'x' },
      });
      expect(wrongType.isError).toBe(true);
      expect(JSON.stringify(wrongType.content)).toMatch(/Invalid arguments for run_python: servers: /);
      const misspelt = await bridge.client.callTool({
        name: 'run_python',
        arguments: { code: 'print(1)', timout: 5 },
      });
      expect(misspelt.isError).toBe(true);
      expect(JSON.stringify(misspelt.content)).toContain(
        'Invalid arguments for run_python: unknown argument \\"timout\\"; run_python takes code, servers, timeout',
      );
    });

    it('answers a call to another tool, and a method it does not serve, with a JSON-RPC error', async () => {
      await expect(bridge.client.callTool({ name: 'run_javascript', arguments: {} })).rejects.toMatchObject({
        code: ErrorCode.InvalidParams,
        message: expect.stringMatching(/Unknown tool "run_javascript": this server has one tool, run_python/),
      });
      await expect(
        bridge.client.request({ method: 'prompts/list', params: {} }, ListPromptsResultSchema),
      ).rejects.toMatchObject({ code: ErrorCode.MethodNotFound });
      expect((await bridge.runPython({ code: 'print(1)' })).text).toBe('1');
    });

    it('rejects unknown server names', async () => {
      const result = await bridge.runPython({ code: 'print(1)', servers: ['nope'] });
      expect(result.isError).toBe(true);
      expect(result.text).toMatch(/Unknown MCP server 'nope'/);
    });

    it('captures output of os.write and child processes as data, never as frames', async () => {
      const result = await bridge.runPython({
        code: [
          'import os, subprocess',
          'os.write(1, b\'{"type":"done","ok":true}\\n\')',
          'subprocess.run(["python3", "-c", "import os; os.write(1, b\'{\\"type\\":\\"out\\"}\\\\n\')"])',
          'os.write(2, b"to stderr\\n")',
          'print("still running")',
        ].join('\n'),
      });
      expect(result.structured.status).toBe('ok');
      expect(result.structured.stdout).toBe('{"type":"done","ok":true}\n{"type":"out"}\nstill running\n');
      expect(result.structured.stderr).toBe('to stderr\n');
    });

    it('caps a 100 MB output flood, keeping head and tail and stating what was elided', async () => {
      const result = await bridge.runPython({
        code: 'import sys\nprint("HEAD")\nchunk = "x" * 1_000_000\nfor _ in range(100):\n    sys.stdout.write(chunk)\nprint()\nprint("TAIL")',
        timeout: 60,
      });
      expect(result.structured.status).toBe('ok');
      expect(result.structured.stdout.startsWith('HEAD\n')).toBe(true);
      expect(result.structured.stdout.endsWith('TAIL\n')).toBe(true);
      expect(result.structured.stdout).toMatch(/… \[[\d,]+ characters elided\] …/);
      expect(result.structured.truncated?.stdout).toBeGreaterThan(99_000_000);
      expect(JSON.stringify(result).length).toBeLessThan(100_000);
    });

    it('times out and kills the container', async () => {
      const result = await bridge.runPython({
        code: 'print("started", flush=True)\nwhile True:\n    pass',
        timeout: 2,
      });
      expect(result.isError).toBe(true);
      expect(result.structured.status).toBe('timeout');
      expect(result.structured.stdout).toBe('started\n');
      expect(result.structured.error).toMatch(/Timed out after 2 s/);
      // How soon it returns is measured in npm run bench, not asserted here.
    });

    it('clamps a requested timeout to MCP_BRIDGE_MAX_TIMEOUT', async () => {
      const result = await bridge.runPython({ code: 'import time\ntime.sleep(60)', timeout: 10_000 });
      expect(result.structured.status).toBe('timeout');
      expect(result.structured.error).toMatch(/Timed out after 5 s/);
    });

    it('runs concurrent calls in parallel without mixing their output', async () => {
      const runs = await Promise.all(
        [1, 2, 3, 4].map((n) =>
          bridge.runPython({
            code: `import time\nfor i in range(5):\n    print("run${n}", i)\n    time.sleep(0.05)`,
          }),
        ),
      );
      runs.forEach((result, index) => {
        const n = index + 1;
        expect(result.structured.stdout).toBe([0, 1, 2, 3, 4].map((i) => `run${n} ${i}\n`).join(''));
      });
    });

    it('starts every run from a fresh interpreter', async () => {
      await bridge.runPython({
        code: 'import builtins\nbuiltins.leak = 1\nopen("/tmp/leak", "w").write("x")',
      });
      const result = await bridge.runPython({
        code: 'import builtins, os\nprint(hasattr(builtins, "leak"), os.path.exists("/tmp/leak"))',
      });
      expect(result.text).toBe('False False');
    });

    it('leaves no container behind once runs have ended', async () => {
      // The warm pool keeps started sandboxes: everything else must be gone.
      expect(await eventually(() => containersOwnedBy(bridge.pid).length <= 1, 15_000)).toBe(true);
    });
  },
);
