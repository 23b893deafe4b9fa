/** The hold a TypeScript run's type check puts on its host calls and output, and the verdict's wording. */
import { describe, expect, it } from 'vitest';
import { HeldHost, verdictOf, withSignatures } from '../../../../src/engine/typescript/typescript-run.js';
import type { SandboxHost, ServerGrant } from '../../../../src/sandbox/types.js';

function recordingHost() {
  const seen: string[] = [];
  const host: SandboxHost = {
    onOutput: (stream, data) => seen.push(`${stream}:${data}`),
    callTool: async (request) => {
      seen.push(`call:${request.tool}`);
      return 'ok';
    },
    callHost: async (op) => {
      seen.push(`op:${op}`);
      return null;
    },
  };
  return { host, seen };
}

describe('HeldHost', () => {
  it('holds output and calls until the check passes, then releases them in order', async () => {
    const { host, seen } = recordingHost();
    const held = new HeldHost(host);
    held.host.onOutput('stdout', 'a');
    const call = held.host.callTool({ server: 's', tool: 't', args: {} }, new AbortController().signal);
    held.host.onOutput('stderr', 'b');
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(seen).toEqual([]);
    held.open();
    expect(await call).toBe('ok');
    held.host.onOutput('stdout', 'c');
    expect(seen).toEqual(['stdout:a', 'stderr:b', 'call:t', 'stdout:c']);
  });

  it('fails the calls waiting and drops the output when the check fails', async () => {
    const { host, seen } = recordingHost();
    const held = new HeldHost(host);
    held.host.onOutput('stdout', 'never shown');
    const call = held.host.callHost('list_values', {}, new AbortController().signal);
    held.refuse();
    await expect(call).rejects.toThrow('the program failed its type check');
    expect(seen).toEqual([]);
  });

  it('lets a call waiting for the verdict end with its run', async () => {
    const { host } = recordingHost();
    const held = new HeldHost(host);
    const controller = new AbortController();
    const call = held.host.callTool({ server: 's', tool: 't', args: {} }, controller.signal);
    controller.abort(new Error('run ended'));
    await expect(call).rejects.toThrow('run ended');
  });
});

describe('verdictOf', () => {
  it('passes a program without errors and reports the first error with line, column and count', () => {
    expect(verdictOf({ diagnostics: [], omitted: 0 })).toEqual({ ok: true });
    const verdict = verdictOf({
      diagnostics: [
        { line: 3, column: 7, code: 2322, message: "Type 'string' is not assignable to type 'number'." },
        { line: 4, column: 1, code: 2304, message: "Cannot find name 'x'." },
      ],
      omitted: 1,
    });
    expect(verdict).toEqual({
      ok: false,
      error:
        "Type error at program.ts:3:7: TS2322: Type 'string' is not assignable to type 'number'. (and 2 more). " +
        'The program was stopped before any tool call; fix the types (or narrow an `unknown` result) and run it again.',
      traceback:
        "program.ts:3:7 - error TS2322: Type 'string' is not assignable to type 'number'.\n" +
        "program.ts:4:1 - error TS2304: Cannot find name 'x'.\n… and 1 more errors",
    });
  });
});

describe('withSignatures', () => {
  it("adds each tool's TypeScript declaration, once per server description", () => {
    const server: ServerGrant = {
      name: 'everything',
      alias: 'everything',
      tools: [
        {
          name: 'get-sum',
          alias: 'get_sum',
          inputSchema: { type: 'object', properties: { a: { type: 'number' } }, required: ['a'] },
        },
      ],
    };
    const typed = withSignatures(server);
    expect(typed.tools[0]?.signature).toBe('get_sum(args: {\n  a: number;\n}): Promise<unknown>;');
    expect(withSignatures(server)).toBe(typed);
  });
});
