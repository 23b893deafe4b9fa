/**
 * The type checker in its worker thread, as the bridge will run it (its entry is tsc's output:
 * `npm run build` first). Checks are answered in order, a cancelled one is dropped, and a closed
 * service refuses more. Verdicts are cached: a cached answer is the fresh one, and a changed grant,
 * changed declarations or a changed program is checked again.
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { TypeCheckService } from '../../src/engine/typescript/check-service.js';
import { serverDeclaration, type TypedServer } from '../../src/engine/typescript/declarations.js';
import { packagePath } from '../../src/shared/package-root.js';

const WORKER = packagePath('dist', 'engine', 'typescript', 'check-worker.js');
const runtimeDeclaration = readFileSync(packagePath('runtime', 'typescript', 'mcp.d.ts'), 'utf8');

/** A server with one tool taking `{ city: string }`. */
function server(name: string, tool: string): TypedServer {
  const inputSchema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
  return { name, alias: name, tools: [{ name: tool, alias: tool, inputSchema }] };
}

describe.runIf(existsSync(WORKER))('TypeCheckService (needs npm run build)', () => {
  const service = new TypeCheckService({ runtimeDeclaration });
  afterAll(() => service.close());

  it('checks programs off the main thread, in order', async () => {
    const [good, bad] = await Promise.all([
      service.check('console.log(await mcp.runtime.servers());', []),
      service.check('const n: number = "x";', []),
    ]);
    expect(good.diagnostics).toEqual([]);
    expect(bad.diagnostics).toEqual([
      { line: 1, column: 7, code: 2322, message: "Type 'string' is not assignable to type 'number'." },
    ]);
  });

  it('drops a cancelled check and answers the next', async () => {
    const controller = new AbortController();
    const cancelled = service.check('const a = 1;', [], controller.signal);
    controller.abort();
    await expect(cancelled).rejects.toThrow();
    expect((await service.check('const b: string = 1;', [])).diagnostics).toHaveLength(1);
  });

  it('answers a program checked before from its cache, exactly as a fresh check does', async () => {
    const own = new TypeCheckService({ runtimeDeclaration });
    const fresh = new TypeCheckService({ runtimeDeclaration, maxCachedVerdicts: 0 });
    try {
      const weather = serverDeclaration(server('weather', 'forecast')).text;
      const grant = [{ key: 'weather', text: weather }];
      const programs = ['await mcp.weather.forecast({ city: "Oslo" });', 'await mcp.weather.forecast({});'];
      for (const code of programs) {
        const first = await own.check(code, grant);
        const checks = own.stats.checks;
        expect(await own.check(code, grant)).toEqual(first);
        expect(own.stats.checks).toBe(checks);
        expect(await fresh.check(code, grant)).toEqual(first);
      }
      expect((await own.check(programs[1] as string, grant)).diagnostics[0]?.code).toBe(2345);
      expect(fresh.stats.hits).toBe(0);
    } finally {
      await Promise.all([own.close(), fresh.close()]);
    }
  });

  it('checks again when the grant or its declarations change', async () => {
    const own = new TypeCheckService({ runtimeDeclaration });
    try {
      const code = 'await mcp.weather.forecast({ city: "Oslo" });';
      const weather = { key: 'weather', text: serverDeclaration(server('weather', 'forecast')).text };
      expect((await own.check(code, [weather])).diagnostics).toEqual([]);
      // Another grant: the server is gone.
      const clock = { key: 'clock', text: serverDeclaration(server('clock', 'now')).text };
      expect((await own.check(code, [clock])).diagnostics.map((d) => d.code)).toEqual([2339]);
      // The same server, its tool renamed upstream: same key, new text.
      const renamed = { key: 'weather', text: serverDeclaration(server('weather', 'outlook')).text };
      expect((await own.check(code, [renamed])).diagnostics.map((d) => d.code)).toEqual([2339]);
      expect(own.stats).toMatchObject({ checks: 3, hits: 0 });
      expect((await own.check(code, [weather])).diagnostics).toEqual([]);
      expect(own.stats).toMatchObject({ checks: 3, hits: 1 });
    } finally {
      await own.close();
    }
  });

  it('checks a program once when it is asked for many times at once', async () => {
    const own = new TypeCheckService({ runtimeDeclaration });
    try {
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => own.check('const n: number = "x";', [])),
      );
      expect(new Set(answers.map((answer) => JSON.stringify(answer))).size).toBe(1);
      expect(answers[0]?.diagnostics).toHaveLength(1);
      expect(own.stats).toMatchObject({ checks: 1, hits: 9 });
    } finally {
      await own.close();
    }
  });

  it('refuses checks once closed', async () => {
    const own = new TypeCheckService({ runtimeDeclaration });
    await own.warm();
    await own.close();
    await expect(own.check('1', [])).rejects.toThrow(/closed/);
  });
});
