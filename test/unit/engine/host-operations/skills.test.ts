/**
 * The skill host operations with what a hostile sandbox can send: random arguments only ever give
 * `HostCallError`, saves per run are capped per run, and nothing lands outside the store.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_SAVES_PER_RUN, skillOperations } from '../../../../src/engine/host-operations/skills.js';
import { SkillNamespaces } from '../../../../src/engine/skills/skill-namespaces.js';
import type { CallContext } from '../../../../src/engine/types.js';
import { HostCallError } from '../../../../src/sandbox/types.js';
import { hostCaller } from '../../../helpers/host-operations.js';
import { seededRandom } from '../../../helpers/seeded-random.js';

const NAMES = [
  'f',
  'ok_name',
  '../x',
  '..',
  '.tmp',
  'os',
  '__import__',
  'a\u0000b',
  '',
  'x'.repeat(70),
  'A',
  'mcp_x',
];
const SOURCES = [
  'def f():\n    pass\n',
  'def ok_name(): return 1\n',
  'print(1)',
  '',
  '\u0000',
  'def A(): pass\n',
];
const VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  2 ** 40,
  'x',
  [],
  {},
  ['a', 1],
  { toString: 'x' },
  '\ud800',
];

let root: string;
let store: SkillNamespaces;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'codemode-skill-ops-'));
  store = new SkillNamespaces(join(root, 'skills'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('skill operations', () => {
  it('answer 2,000 random requests with results or HostCallError only, and write only valid skills', async () => {
    const call = hostCaller(skillOperations(store));
    const next = seededRandom(0x5eed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
    let saved = 0;
    for (let i = 0; i < 2000; i++) {
      const op = pick(['save_skill', 'delete_skill', 'list_skills'] as const);
      const args: Record<string, unknown> = {};
      for (const key of [
        'name',
        'source',
        'version',
        'description',
        'signature',
        'parameters',
        'servers',
        'isAsync',
        'shared',
      ]) {
        if (next() < 0.6) {
          args[key] =
            key === 'name'
              ? pick(next() < 0.8 ? NAMES : VALUES)
              : key === 'source'
                ? pick(next() < 0.8 ? SOURCES : VALUES)
                : key === 'shared'
                  ? pick(next() < 0.8 ? [true, false] : VALUES)
                  : pick(VALUES);
        }
      }
      try {
        await call(op, args, { runId: `run-${i}` });
        if (op === 'save_skill') saved++;
      } catch (error) {
        if (!(error instanceof HostCallError))
          throw new Error(`case ${i}: ${op} ${JSON.stringify(args)} threw ${error}`);
      }
    }
    expect(readdirSync(root)).toEqual(['skills']);
    const skillsIn = (dir: string) =>
      existsSync(dir) ? readdirSync(dir).filter((name) => !name.startsWith('.')) : [];
    // Own saves land in the store, shared ones (which move an own copy) under .shared.
    const stored = [...skillsIn(join(root, 'skills')), ...skillsIn(join(root, 'skills', '.shared'))];
    // Some random requests were valid saves (later ones may have deleted them); nothing else was written.
    expect(saved).toBeGreaterThan(0);
    expect(stored.filter((name) => !['f', 'ok_name', 'A'].includes(name))).toEqual([]);
  });

  it(`caps saves at ${MAX_SAVES_PER_RUN} per run, each run counted on its own`, async () => {
    const call = hostCaller(skillOperations(store));
    const save = (run: CallContext) =>
      call('save_skill', { name: 'f', source: 'def f():\n    return 1\n' }, run);
    const first: CallContext = { runId: 'run-1' };
    for (let i = 0; i < MAX_SAVES_PER_RUN; i++) await save(first);
    await expect(save(first)).rejects.toThrow(`a run may save at most ${MAX_SAVES_PER_RUN} skills`);
    await expect(save({ runId: 'run-2' })).resolves.toMatchObject({
      version: MAX_SAVES_PER_RUN + 1,
    });
    expect(readdirSync(join(root, 'skills', 'f'))).toHaveLength(10);
  });
});
