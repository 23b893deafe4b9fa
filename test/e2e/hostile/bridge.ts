/** Hostile cases: The bridge itself: its process, its other runs, its clients. */
import { expect } from 'vitest';
import {
  announce,
  type CaseContext,
  CONTAINERS,
  EMBEDDED,
  forge,
  type HostileCase,
  memoryHint,
  unique,
} from './kit.js';

const LONG_ANNOUNCED = (token: string, context: CaseContext) =>
  `${announce(token, context)}import asyncio\nawait asyncio.sleep(60)\nprint("not reached")`;

export const BRIDGE: HostileCase[] = [
  {
    name: 'the client cancels a run mid-way: its sandbox is killed at once',
    category: 'bridge',
    drive: async (context) => {
      const token = unique('cancel');
      const controller = new AbortController();
      const running = context.run(
        { servers: ['soak'], code: LONG_ANNOUNCED(token, context), timeout: 60 },
        { signal: controller.signal },
      );
      const sandbox = await context.announced(token);
      controller.abort();
      return { ...(await running), sandboxes: sandbox ? [sandbox] : [] };
    },
    expect: { status: 'rejected', error: /abort/i },
  },
  {
    name: "the client's request times out: its sandbox is killed",
    category: 'bridge',
    drive: async (context) => {
      const token = unique('client-timeout');
      const running = context.run(
        { servers: ['soak'], code: LONG_ANNOUNCED(token, context), timeout: 60 },
        { requestTimeoutMs: 8000 },
      );
      // The client gives up by itself; the program may not even have started by then on a busy machine.
      const sandbox = await Promise.race([context.announced(token), running.then(() => undefined)]);
      return { ...(await running), sandboxes: sandbox ? [sandbox] : [] };
    },
    expect: { status: 'rejected', error: /Request timed out/ },
  },
  {
    name: 'a run beyond MCP_BRIDGE_MAX_CONCURRENT_RUNS waits its turn, its timeout running',
    category: 'bridge',
    drive: async (context) => {
      // Two runs hold both slots for MCP_BRIDGE_CALL_TIMEOUT (5 s); the third's 1 s ends while it waits.
      const holding =
        'import mcp\ntry:\n    await mcp_hanging.hang()\nexcept mcp.ToolError:\n    print("held")';
      const first = context.run({ servers: ['hanging'], code: holding });
      const second = context.run({ servers: ['hanging'], code: holding });
      const queued = context.run({ code: 'print("ran")', timeout: 1 });
      const [one, two, three] = await Promise.all([first, second, queued]);
      return { ...three, sandboxes: [...one.sandboxes, ...two.sandboxes], others: [one, two] };
    },
    expect: {
      status: 'timeout',
      stdout: '',
      check: (run) => {
        for (const held of run.others ?? []) {
          expect(held.outcome).toMatchObject({ status: 'ok', stdout: 'held\n' });
        }
        // The queued run never got a sandbox, so it could not report one.
        expect(run.outcome?.error).toMatch(
          /^Timed out after 1 s waiting for a free run slot .*; the program did not start/,
        );
      },
    },
    anonymous: true,
  },
  {
    name: 'the client cancels a run while it waits for a slot',
    category: 'bridge',
    drive: async (context) => {
      const holding =
        'import mcp\ntry:\n    await mcp_hanging.hang()\nexcept mcp.ToolError:\n    print("held")';
      const first = context.run({ servers: ['hanging'], code: holding });
      const second = context.run({ servers: ['hanging'], code: holding });
      const controller = new AbortController();
      const queued = context.run({ code: 'print("ran")' }, { signal: controller.signal });
      controller.abort();
      const [one, two, three] = await Promise.all([first, second, queued]);
      return { ...three, sandboxes: [...one.sandboxes, ...two.sandboxes], others: [one, two] };
    },
    expect: {
      status: 'rejected',
      error: /abort/i,
      check: (run) => {
        for (const held of run.others ?? []) {
          expect(held.outcome).toMatchObject({ status: 'ok', stdout: 'held\n' });
        }
      },
    },
  },
  {
    name: 'its sandbox is killed from outside mid-run',
    category: 'bridge',
    drive: async (context) => {
      const token = unique('killed');
      const running = context.run({ servers: ['soak'], code: LONG_ANNOUNCED(token, context), timeout: 60 });
      const sandbox = await context.announced(token);
      if (sandbox) context.killSandbox(sandbox);
      return running;
    },
    expect: (context) => ({ status: 'killed', error: memoryHint(context), stdout: '' }),
  },
  {
    name: 'the engine client of its container is killed: the container is still removed',
    category: 'bridge',
    backends: CONTAINERS,
    drive: async (context) => {
      const token = unique('client-killed');
      const running = context.run({ servers: ['soak'], code: LONG_ANNOUNCED(token, context), timeout: 60 });
      const sandbox = await context.announced(token);
      // The engine's event stream can lag behind the program on a loaded machine: wait for it.
      let client: number | undefined;
      for (let waited = 0; sandbox && !client && waited < 30_000; waited += 100) {
        client = context.containerClientOf(sandbox);
        if (!client) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      if (!client) throw new Error(`no engine client for container ${sandbox}`);
      process.kill(client, 'SIGKILL');
      return running;
    },
    expect: { status: 'killed' },
  },
  {
    name: 'its container is paused from outside: the timeout still ends it',
    category: 'bridge',
    backends: CONTAINERS,
    drive: async (context) => {
      const token = unique('paused');
      const running = context.run({ servers: ['soak'], code: LONG_ANNOUNCED(token, context), timeout: 4 });
      const sandbox = await context.announced(token);
      if (sandbox) context.engine(['pause', sandbox]);
      return running;
    },
    expect: { status: 'timeout' },
  },
  {
    name: 'its container is removed from outside mid-run',
    category: 'bridge',
    backends: CONTAINERS,
    drive: async (context) => {
      const token = unique('removed');
      const running = context.run({ servers: ['soak'], code: LONG_ANNOUNCED(token, context), timeout: 60 });
      const sandbox = await context.announced(token);
      if (sandbox) context.engine(['rm', '-f', '-t', '0', sandbox]);
      return running;
    },
    expect: { status: 'killed' },
  },
  {
    name: 'its worker is stopped (SIGSTOP) from outside: the timeout still ends it',
    category: 'bridge',
    backends: EMBEDDED,
    drive: async (context) => {
      const token = unique('stopped');
      const running = context.run({ servers: ['soak'], code: LONG_ANNOUNCED(token, context), timeout: 4 });
      const sandbox = await context.announced(token);
      if (sandbox) context.killSandbox(sandbox, 'SIGSTOP');
      return running;
    },
    expect: { status: 'timeout' },
  },
  {
    name: 'asks for a server that does not exist: refused before any sandbox',
    category: 'bridge',
    servers: ['no-such-server', '../etc'],
    code: 'print("not reached")',
    expect: { status: 'refused', error: /no-such-server/ },
  },
  {
    name: 'a run that breaks the protocol does not disturb a run beside it',
    category: 'bridge',
    drive: async (context) => {
      const breaking = context.run({
        code: `${forge(context)}\nimport time\ntime.sleep(0.5)\nforge(b"garbage\\n")\ntime.sleep(5)`,
      });
      const bystander = context.run({
        code: 'import time\nfor i in range(10):\n    print(i)\n    time.sleep(0.1)',
      });
      const [broken, stood] = await Promise.all([breaking, bystander]);
      return { ...broken, sandboxes: [...broken.sandboxes, ...stood.sandboxes], others: [stood] };
    },
    expect: {
      status: 'protocol_error',
      check: (run) => {
        expect(run.others?.[0]?.outcome).toMatchObject({
          status: 'ok',
          stdout: '0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n',
        });
      },
    },
  },
];
