/**
 * The console's SQLite run store (a real database file in a temporary directory): runs survive a
 * reopen, listings filter as the feed does, both bounds hold, runs left `running` by a bridge that
 * stopped are shown killed, and a corrupt or unwritable database leaves a store that keeps nothing
 * instead of an exception.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FeedRun, INTERRUPTED_ERROR, matches } from '../../../../src/server/console/run-feed.js';
import { inspectRunStore, openRunStore, runStorePath } from '../../../../src/server/console/run-store.js';
import { createLogger } from '../../../../src/shared/logger.js';

const logger = createLogger('error', () => {});
const BIG = { maxRuns: 1000, maxBytes: 64 * 1048576 };

function run(n: number, fields: Partial<FeedRun> = {}): FeedRun {
  return {
    id: `run-${n}-boot`,
    runId: `run-${n}`,
    code: `print(${n})`,
    servers: n % 2 ? ['shapes'] : ['everything'],
    session: `session${n % 3}-abcdef`,
    principal: n % 2 ? { id: 'alice', name: 'alice' } : { id: 'bob', name: 'bob' },
    startedAt: 1_000_000 + n,
    status: n % 4 === 0 ? 'error' : 'ok',
    toolCalls: [],
    droppedCalls: 0,
    seq: 3,
    ...fields,
  };
}

describe('SQLite run store', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'codemode-run-store-'));
    path = runStorePath(join(dir, 'state'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps runs across a reopen, in a 0600 file, and lists them filtered like the feed', () => {
    const store = openRunStore(path, BIG, logger);
    expect(store.working).toBe(true);
    const all = Array.from({ length: 12 }, (_, n) => run(n + 1));
    for (const each of all) store.save(each);
    store.close();
    expect(statSync(path).mode & 0o777).toBe(0o600);

    const again = openRunStore(path, BIG, logger);
    expect(again.get('run-5-boot')?.code).toBe('print(5)');
    expect(again.list({}, 100).map((each) => each.id)[0]).toBe('run-12-boot');
    for (const filter of [
      { status: 'error' as const },
      { server: 'shapes' },
      { session: 'session1' },
      { principal: 'bob' },
      { server: 'everything', status: 'ok' as const },
    ]) {
      const listed = again.list(filter, 100).map((each) => each.id);
      const expected = all
        .filter((each) => matches(each, filter))
        .map((each) => each.id)
        .reverse();
      expect(listed, JSON.stringify(filter)).toEqual(expected);
    }
    expect(again.list({ viewer: 'alice' }, 100).every((each) => each.principal.id === 'alice')).toBe(true);
    expect(again.list({}, 3)).toHaveLength(3);
    again.close();
  });

  it('drops the oldest finished runs past either bound, never a run in flight', () => {
    const byCount = openRunStore(path, { maxRuns: 5, maxBytes: BIG.maxBytes }, logger);
    byCount.save(run(0, { status: 'running', startedAt: 1 }));
    for (let n = 1; n <= 20; n++) byCount.save(run(n));
    expect(byCount.totals()?.runs).toBe(5);
    expect(byCount.get('run-0-boot')?.status).toBe('running');
    expect(byCount.get('run-20-boot')).toBeDefined();
    expect(byCount.get('run-5-boot')).toBeUndefined();
    byCount.close();
    rmSync(join(dir, 'state'), { recursive: true });

    const byBytes = openRunStore(path, { maxRuns: 1000, maxBytes: 1 << 20 }, logger);
    const big = 'x'.repeat(100_000);
    for (let n = 1; n <= 30; n++) byBytes.save(run(n, { stdout: big }));
    const totals = byBytes.totals();
    expect(totals?.bytes).toBeLessThanOrEqual(1 << 20);
    expect(totals?.runs).toBeLessThan(30);
    expect(byBytes.get('run-30-boot')).toBeDefined();
    byBytes.close();
  });

  it('shows runs a stopped bridge left running as killed', () => {
    const store = openRunStore(path, BIG, logger);
    store.save(run(1, { status: 'running' }));
    store.close();
    const after = openRunStore(path, BIG, logger);
    expect(after.get('run-1-boot')).toMatchObject({ status: 'killed', error: INTERRUPTED_ERROR });
    after.close();
  });

  it('keeps nothing, without throwing, when the file is not a database or cannot be written', () => {
    mkdirSync(join(dir, 'state', 'console'), { recursive: true });
    writeFileSync(
      path,
      'this is not a SQLite database, it is a text file that got here somehow\n'.repeat(100),
    );
    const corrupt = openRunStore(path, BIG, logger);
    expect(corrupt.working).toBe(false);
    expect(corrupt.reason).toMatch(/not a database/);
    corrupt.save(run(1));
    expect(corrupt.list({}, 10)).toEqual([]);
    expect(corrupt.get('run-1-boot')).toBeUndefined();
    expect(inspectRunStore(path)).toMatch(/cannot be used .*not a database/);

    // A state directory that cannot hold it (here a file stands where its directory should be).
    const blocked = join(dir, 'blocked');
    writeFileSync(blocked, '');
    const unwritable = openRunStore(runStorePath(blocked), BIG, logger);
    expect(unwritable.working).toBe(false);
    expect(unwritable.reason).toMatch(/ENOTDIR|EEXIST/);
  });

  it('writes saves behind the run, the latest state of each run once, and a read or close writes them first', () => {
    const store = openRunStore(path, BIG, logger);
    const live = run(1, { status: 'running' });
    store.save(live);
    // Nothing is on disk yet: the save returned before any write (another reader sees no run).
    expect(inspectRunStore(path)).toMatch(/: 0 runs/);
    live.status = 'ok';
    live.stdout = 'done\n';
    store.save(live);
    store.save(run(2));
    expect(store.get('run-1-boot')).toMatchObject({ status: 'ok', stdout: 'done\n' });
    expect(inspectRunStore(path)).toMatch(/: 2 runs/);
    store.save(run(3));
    store.close();
    const again = openRunStore(path, BIG, logger);
    expect(again.list({}, 10).map((each) => each.id)).toEqual(['run-3-boot', 'run-2-boot', 'run-1-boot']);
    again.close();
  });

  it('holds the count bound exactly when runs are written at their start and replaced at their end', () => {
    const store = openRunStore(path, { maxRuns: 5, maxBytes: BIG.maxBytes }, logger);
    for (let n = 1; n <= 30; n++) {
      const live = run(n, { status: 'running', startedAt: n });
      store.save(live);
      store.flush();
      store.save({ ...live, status: 'ok', stdout: 'x'.repeat(n * 10) });
      if (n % 3 === 0) store.flush();
    }
    expect(store.totals()?.runs).toBe(5);
    expect(store.list({}, 10).map((each) => each.runId)).toEqual([
      'run-30',
      'run-29',
      'run-28',
      'run-27',
      'run-26',
    ]);
    store.close();
  });

  it('doctor reads what is kept without creating anything', () => {
    expect(inspectRunStore(path)).toMatch(/none yet/);
    const store = openRunStore(path, BIG, logger);
    store.save(run(1));
    store.close();
    expect(inspectRunStore(path)).toMatch(/: 1 runs, \d+ KiB/);
  });
});
