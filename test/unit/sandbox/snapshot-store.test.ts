/**
 * The embedded snapshot cache's lifecycle with a scripted builder instead of a Deno worker: built once
 * when missing (when the caller asks), offered at once and verified once, rebuilt when corrupt or rejected, bounded rebuilds,
 * stale files swept, and a build in progress allowed to finish on close.
 */
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  SnapshotStore,
  snapshotFileName,
  writeSnapshot,
} from '../../../src/sandbox/embedded/snapshot-store.js';
import { createLogger } from '../../../src/shared/logger.js';

const KEY = '0123456789abcdef';
const OTHER_KEY = 'fedcba9876543210';
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function storeWith(
  build: (signal: AbortSignal) => Promise<Buffer>,
  dir = mkdtempSync(join(tmpdir(), 'snap-')),
) {
  dirs.push(dir);
  const log: string[] = [];
  const builds: number[] = [];
  const store = new SnapshotStore({
    dir,
    key: KEY,
    build: async (signal) => {
      builds.push(Date.now());
      return writeSnapshot(dir, KEY, await build(signal));
    },
    logger: createLogger('debug', (line) => log.push(line)),
  });
  return { store, dir, log, builds };
}

const bytes = (text: string) => async () => Buffer.from(text);

describe('SnapshotStore', () => {
  it('starts cold while it builds the first snapshot, then serves it', async () => {
    const { store, dir, builds } = storeWith(bytes('snapshot one'));
    expect(await store.current()).toBeUndefined();
    const record = await store.settled();
    expect(record?.size).toBe('snapshot one'.length);
    expect(await store.current()).toEqual(record);
    expect(builds).toHaveLength(1);
    expect(readdirSync(dir).filter((name) => name.endsWith('.snap'))).toHaveLength(1);
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('builds only when asked to: a caller may load a worker cold first and start the build after', async () => {
    const { store, builds } = storeWith(bytes('later'));
    expect(await store.current({ build: false })).toBeUndefined();
    expect(store.building).toBe(false);
    expect(builds).toHaveLength(0);
    expect(await store.current()).toBeUndefined();
    expect(store.building).toBe(true);
    const record = await store.settled();
    expect(store.building).toBe(false);
    expect(await store.current({ build: false })).toEqual(record);
    expect(builds).toHaveLength(1);
  });

  it('reuses a verified snapshot another bridge left, without building', async () => {
    const first = storeWith(bytes('shared'));
    await first.store.current();
    const built = await first.store.settled();
    const second = storeWith(bytes('never built'), first.dir);
    const offered = await second.store.current();
    expect(offered).toEqual(built);
    if (!offered) throw new Error('nothing offered');
    expect(await second.store.verify(offered)).toBe(true);
    // Checked once: every worker started from it waits on the same check.
    expect(second.store.verify(offered)).toBe(second.store.verify(offered));
    expect(second.builds).toEqual([]);
  });

  it('deletes a snapshot whose contents do not match its name and builds a new one', async () => {
    const { store, dir, log } = storeWith(bytes('good'));
    const corrupt = join(dir, snapshotFileName(KEY, 'a'.repeat(64)));
    writeFileSync(corrupt, 'truncated or damaged');
    // Offered before its digest is checked: the check runs beside the first workers' start.
    const offered = await store.current();
    expect(offered?.file).toBe(corrupt);
    if (!offered) throw new Error('nothing offered');
    expect(await store.verify(offered)).toBe(false);
    expect(log.join('\n')).toContain('embedded snapshot is corrupt; deleting it');
    const record = await store.settled();
    expect(record?.file).not.toBe(corrupt);
    if (!record) throw new Error('no snapshot built');
    expect(await store.verify(record)).toBe(true);
    expect(await store.current()).toEqual(record);
    expect(readdirSync(dir)).not.toContain(corrupt.split('/').at(-1));
  });

  it('never offers an empty snapshot file: deletes it and builds', async () => {
    const { store, dir, log } = storeWith(bytes('good'));
    const empty = join(dir, snapshotFileName(KEY, 'e'.repeat(64)));
    writeFileSync(empty, '');
    expect(await store.current()).toBeUndefined();
    expect(log.join('\n')).toContain('embedded snapshot is corrupt; deleting it');
    expect(readdirSync(dir)).not.toContain(empty.split('/').at(-1));
    expect((await store.settled())?.size).toBe('good'.length);
  });

  it('rebuilds a snapshot a worker rejected', async () => {
    let n = 0;
    const { store, builds } = storeWith(async () => Buffer.from(`build ${++n}`));
    await store.current();
    const first = await store.settled();
    if (!first) throw new Error('no first snapshot');
    store.invalidate(first, 'the worker exited 3');
    expect(await store.current()).toBeUndefined();
    const second = await store.settled();
    expect(second?.file).not.toBe(first.file);
    expect(builds).toHaveLength(2);
  });

  it('gives up after three failed builds: workers keep starting cold', async () => {
    const { store, builds, log } = storeWith(async () => {
      throw new Error('deno crashed');
    });
    for (let i = 0; i < 5; i++) {
      expect(await store.current()).toBeUndefined();
      await store.settled();
    }
    expect(builds).toHaveLength(3);
    expect(log.filter((line) => line.includes('could not build the embedded snapshot'))).toHaveLength(3);
  });

  it("sweeps other versions' snapshots and temp files once they are old, keeping recent ones", async () => {
    const { store, dir } = storeWith(bytes('current'));
    const old = Date.now() / 1000 - 2 * 24 * 60 * 60;
    const oldOther = snapshotFileName(OTHER_KEY, 'b'.repeat(64));
    const newOther = snapshotFileName(OTHER_KEY, 'c'.repeat(64));
    const oldTemp = '.leftover.123.abcd.tmp';
    for (const name of [oldOther, newOther, oldTemp]) writeFileSync(join(dir, name), 'x');
    utimesSync(join(dir, oldOther), old, old);
    utimesSync(join(dir, oldTemp), old, old);
    await store.current();
    await store.settled();
    const left = readdirSync(dir);
    expect(left).toContain(newOther);
    expect(left).not.toContain(oldOther);
    expect(left).not.toContain(oldTemp);
  });

  it('lets a build in progress finish on close, then stops building', async () => {
    let finish: (value: Buffer) => void = () => {};
    const { store, dir, builds } = storeWith(
      () =>
        new Promise<Buffer>((resolve) => {
          finish = resolve;
        }),
    );
    await store.current();
    const closing = store.close();
    finish(Buffer.from('finished while closing'));
    await closing;
    expect(readdirSync(dir).filter((name) => name.endsWith('.snap'))).toHaveLength(1);
    await store.current();
    expect(builds).toHaveLength(1);
  });
});
