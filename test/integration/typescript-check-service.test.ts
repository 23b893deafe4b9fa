/**
 * The type checker in its worker thread, as the bridge will run it (its entry is tsc's output:
 * `npm run build` first). Checks are answered in order, a cancelled one is dropped, and a closed
 * service refuses more.
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { TypeCheckService } from '../../src/engine/typescript/check-service.js';
import { packagePath } from '../../src/shared/package-root.js';

const WORKER = packagePath('dist', 'engine', 'typescript', 'check-worker.js');
const runtimeDeclaration = readFileSync(packagePath('runtime', 'typescript', 'mcp.d.ts'), 'utf8');

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

  it('refuses checks once closed', async () => {
    const own = new TypeCheckService({ runtimeDeclaration });
    await own.warm();
    await own.close();
    await expect(own.check('1', [])).rejects.toThrow(/closed/);
  });
});
