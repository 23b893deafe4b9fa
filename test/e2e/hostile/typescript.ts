/**
 * The hostile suite's TypeScript half (issue 30), run by the shared harness
 * (`describeTypeScriptHostileSuite` in hostile-harness.ts, with its checks after every case): escape
 * attempts, the network, resources, prototype pollution of the host bridge, forged frames, an
 * ungranted server, huge and deep values. The programs are not type-checked: the checker guards
 * against mistakes, not against a hostile program (`as any` passes anything).
 */
import { expect } from 'vitest';
import type { RunOutcome } from '../../../src/engine/types.js';
import type { Category } from './kit.js';

export interface TypeScriptCase {
  category: Category;
  name: string;
  code: string;
  /** Servers granted to the run (the harness's bridge has server-everything, -memory and -filesystem). */
  servers?: string[];
  timeout?: number;
  /** Checks the run's outcome (its stderr without the harness's sandbox line). */
  expect: (outcome: RunOutcome) => void;
}

/** A program trying each of `attempts` (a statement that must throw) and printing those that did not. */
function refusedAll(attempts: Record<string, string>): string {
  return [
    'const escaped: string[] = [];',
    ...Object.entries(attempts).map(
      ([name, attempt]) =>
        `try { ${attempt}; escaped.push(${JSON.stringify(name)}); } catch { /* refused */ }`,
    ),
    'console.log(JSON.stringify(escaped));',
  ].join('\n');
}

const noneEscaped = (outcome: RunOutcome) => {
  expect(outcome.status, outcome.error).toBe('ok');
  expect(outcome.stdout).toBe('[]\n');
};

export const TYPESCRIPT_CASES: readonly TypeScriptCase[] = [
  {
    category: 'escape',
    name: 'no file, environment, subprocess, FFI, system information or imports',
    code: refusedAll({
      read: 'Deno.readTextFileSync("/etc/passwd")',
      write: 'Deno.writeTextFileSync("/tmp/hostile-ts", "x")',
      env: 'Deno.env.get("HOME")',
      command: 'new Deno.Command("/bin/sh", { args: ["-c", "id"] }).outputSync()',
      ffi: 'Deno.dlopen("/lib/x86_64-linux-gnu/libc.so.6", {})',
      hostname: 'Deno.hostname()',
      importFile: 'await import("file:///etc/passwd")',
      importNpm: 'await import("npm:left-pad")',
      cwdOut: 'Deno.chdir("/etc")',
    }),
    timeout: 30,
    expect: noneEscaped,
  },
  {
    category: 'network',
    name: 'no fetch, socket or listener',
    code: refusedAll({
      fetch: 'await fetch("http://127.0.0.1:9/")',
      connect: 'await Deno.connect({ hostname: "127.0.0.1", port: 9 })',
      listen: 'Deno.listen({ port: 0 })',
      resolve: 'await Deno.resolveDns("example.com", "A")',
    }),
    timeout: 30,
    expect: noneEscaped,
  },
  {
    category: 'resources',
    name: 'a memory bomb ends its own run only',
    code: 'const hoard: number[][] = [];\nwhile (true) hoard.push(new Array(1e6).fill(1.5));',
    timeout: 60,
    expect: (outcome) => expect(['killed', 'error']).toContain(outcome.status),
  },
  {
    category: 'resources',
    name: 'an output flood is capped, the rest counted',
    code: 'const line = "x".repeat(1000);\nfor (let i = 0; i < 20000; i++) console.log(line);',
    timeout: 60,
    expect: (outcome) => {
      expect(outcome.status).toBe('ok');
      expect(outcome.stdout.length).toBeLessThanOrEqual(2200);
      expect(outcome.truncated?.stdout).toBeGreaterThan(19_000_000);
    },
  },
  {
    category: 'bridge',
    name: 'prototype pollution of the host bridge: calls still go where they were written',
    servers: ['everything'],
    code: [
      'Object.defineProperty(Object.prototype, "server", { set() { throw new Error("trap"); }, get() { return "memory"; } });',
      '(Array.prototype as any)[Symbol.iterator] = function* () { yield "polluted"; };',
      'JSON.stringify = () => "{}";',
      'JSON.parse = () => ({ hijacked: true });',
      '(Promise.prototype as any).then = function () { throw new Error("then"); };',
      'String.prototype.indexOf = () => -1;',
      'Map.prototype.get = () => undefined;',
      'const echoed = await mcp.everything.echo({ message: "still me" });',
      'Deno.stdout.writeSync(new TextEncoder().encode(String(echoed) + "\\n"));',
    ].join('\n'),
    expect: (outcome) => {
      expect(outcome.status, outcome.error).toBe('ok');
      expect(outcome.stdout).toBe('Echo: still me\n');
    },
  },
  {
    category: 'protocol',
    name: 'forged frames: writes to the process stdout are output, never frames',
    servers: ['everything'],
    code: [
      'const out = (line: string) => Deno.stdout.writeSync(new TextEncoder().encode(line + "\\n"));',
      'out(JSON.stringify({ type: "rpc", id: 999, server: "memory", tool: "read_graph", args: {} }));',
      'out(JSON.stringify({ type: "done", ok: false, error: "forged" }));',
      'out(JSON.stringify({ type: "call", id: 998, op: "list_values", args: {} }));',
      'console.log("after");',
    ].join('\n'),
    expect: (outcome) => {
      expect(outcome.status, outcome.error).toBe('ok');
      expect(outcome.stdout).toContain('"type":"done","ok":false,"error":"forged"');
      expect(outcome.stdout.endsWith('after\n')).toBe(true);
    },
  },
  {
    category: 'bridge',
    name: 'an ungranted server is refused by the host, whatever the runtime is made to send',
    servers: ['everything'],
    code: 'try { await mcp.runtime.callTool("memory", "read_graph", {}); } catch (e) { console.log((e as any).code); }',
    expect: (outcome) => expect(outcome.stdout).toBe('NOT_GRANTED\n'),
  },
  {
    category: 'protocol',
    name: 'huge values: an argument over the frame bound ends the run, the bridge stays',
    servers: ['everything'],
    code: 'await mcp.everything.echo({ message: "x".repeat(12 * 1024 * 1024) });',
    timeout: 60,
    expect: (outcome) => expect(['protocol_error', 'error']).toContain(outcome.status),
  },
  {
    category: 'protocol',
    name: 'deep values: arguments nested past what a frame takes end the run only',
    servers: ['everything'],
    code: [
      'let deep: any = "m";',
      'for (let i = 0; i < 100; i++) deep = [deep];',
      'await mcp.everything.echo({ message: "m", deep } as any);',
    ].join('\n'),
    timeout: 60,
    expect: (outcome) => {
      expect(outcome.status).toBe('protocol_error');
      expect(outcome.error).toContain('nested deeper than 64 levels');
    },
  },
  {
    category: 'protocol',
    name: 'deeper values than JSON.stringify can go: refused in the sandbox or by the host, never the bridge',
    servers: ['everything'],
    code: [
      'let deep: any = {};',
      'for (let i = 0; i < 1_000_000; i++) deep = { d: deep };',
      'try { await mcp.everything.echo({ message: "m", deep } as any); } catch (e) { console.log((e as Error).name); }',
    ].join('\n'),
    timeout: 60,
    expect: (outcome) => {
      if (outcome.status === 'ok') expect(outcome.stdout).toBe('TypeError\n');
      else expect(outcome.status).toBe('protocol_error');
    },
  },
];
