/** The skill store on a real file system: versions, limits, broken files, concurrent writers. */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SkillDraft } from '../../../../src/engine/skills/skill-rules.js';
import { decodeSkillFile } from '../../../../src/engine/skills/skill-rules.js';
import { SkillStore } from '../../../../src/engine/skills/skill-store.js';
import { HostCallError } from '../../../../src/sandbox/types.js';

function draft(name: string, body = 'return 1', extra: Partial<SkillDraft> = {}): SkillDraft {
  return {
    name,
    source: `def ${name}():\n    ${body}\n`,
    description: `${name} does things`,
    signature: '()',
    parameters: [],
    isAsync: false,
    servers: [],
    ...extra,
  };
}

async function refusal(promise: Promise<unknown>): Promise<HostCallError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof HostCallError) return error;
    throw error;
  }
  throw new Error('expected a HostCallError');
}

let dir: string;
let store: SkillStore;

beforeEach(() => {
  dir = join(mkdtempSync(join(tmpdir(), 'codemode-skills-')), 'skills');
  store = new SkillStore({ dir, maxVersions: 3 });
});
afterEach(() => {
  rmSync(join(dir, '..'), { recursive: true, force: true });
});

describe('SkillStore', () => {
  it('removes what a crashed writer left in its temp directory, and nothing of a live one', async () => {
    const temp = join(dir, '.tmp');
    mkdirSync(temp, { recursive: true });
    const uuid = '0123abcd-0000-4000-8000-000000000000';
    // pid 2^22 + 1 is above the kernel's pid_max on every default configuration: never alive.
    writeFileSync(join(temp, `gone.${2 ** 22 + 1}.${uuid}.py`), 'half a skill');
    writeFileSync(join(temp, `live.${process.pid}.${uuid}.py`), 'being written');
    await store.save(draft('first'));
    expect(readdirSync(temp)).toEqual([`live.${process.pid}.${uuid}.py`]);
  });

  it('lists nothing before the first save (the directory need not exist)', async () => {
    expect(await store.list()).toEqual([]);
  });

  it('saves versions, serves the newest, keeps the older ones up to the limit', async () => {
    expect(await store.save(draft('f', 'return 1'))).toMatchObject({ name: 'f', version: 1, pruned: [] });
    expect(await store.save(draft('f', 'return 2'))).toMatchObject({ version: 2, pruned: [] });
    const [f] = await store.list();
    expect(f).toMatchObject({
      name: 'f',
      version: 2,
      versions: [1, 2],
      description: 'f does things',
      signature: '()',
    });
    expect(f?.source).toBe('def f():\n    return 2\n');
    expect((await store.read('f', 1)).source).toBe('def f():\n    return 1\n');

    await store.save(draft('f', 'return 3'));
    expect(await store.save(draft('f', 'return 4'))).toMatchObject({ version: 4, pruned: [1] });
    expect(readdirSync(join(dir, 'f')).sort()).toEqual(['v2.py', 'v3.py', 'v4.py']);
    const text = readFileSync(join(dir, 'f', 'v4.py'), 'utf8');
    expect(decodeSkillFile(text).header).toMatchObject({ name: 'f', description: 'f does things' });
  });

  it('returns the same listing while nothing changed, and notices a file edited by hand', async () => {
    await store.save(draft('f'));
    const first = await store.list();
    expect(await store.list()).toBe(first);
    writeFileSync(join(dir, 'f', 'v1.py'), 'def f():\n    return "edited by hand, longer"\n');
    const second = await store.list();
    expect(second).not.toBe(first);
    expect(second[0]?.source).toContain('edited by hand');
    expect(second[0]?.description).toBe('');
  });

  it('reports broken skills instead of failing the listing', async () => {
    await store.save(draft('good'));
    const write = (name: string, content: string | Buffer, file = 'v1.py') => {
      mkdirSync(join(dir, name), { recursive: true });
      writeFileSync(join(dir, name, file), content);
    };
    write('garbage', Buffer.from([0xff, 0xfe, 0x00, 0x41]));
    write('nodef', 'print("no function here")\n');
    write('big', `def big():\n    pass\n#${'x'.repeat(80_000)}\n`);
    write('nul', 'def nul():\n    pass\n\u0000\n');
    write('impostor', '# codemode-bridge skill: {"name":"other"}\ndef impostor():\n    pass\n');
    write('os', 'def os():\n    pass\n');
    write('empty', 'not a version', 'notes.txt');
    mkdirSync(join(dir, '.hidden'));
    const byName = Object.fromEntries((await store.list()).map((skill) => [skill.name, skill]));
    expect(Object.keys(byName).sort()).toEqual(['big', 'garbage', 'good', 'impostor', 'nodef', 'nul', 'os']);
    expect(byName.good?.error).toBeUndefined();
    expect(byName.garbage?.error).toBe('the file is not valid UTF-8');
    expect(byName.nodef?.error).toMatch(/does not define a function 'nodef'/);
    expect(byName.big?.error).toMatch(/bytes; a skill holds at most 65,536/);
    expect(byName.nul?.error).toMatch(/NUL/);
    expect(byName.impostor?.error).toMatch(/says it is skill 'other'/);
    expect(byName.os?.error).toMatch(/not a valid skill name: .*standard library/);
    for (const name of ['garbage', 'nodef', 'big', 'nul', 'impostor', 'os'])
      expect(byName[name]?.source).toBeUndefined();
  });

  it('deletes every version, or one, and says what it does not know', async () => {
    await store.save(draft('f'));
    await store.save(draft('f', 'return 2'));
    await store.save(draft('g'));
    expect(await store.delete('f', 2)).toEqual({ name: 'f', deleted: [2] });
    expect((await store.list()).find((skill) => skill.name === 'f')).toMatchObject({
      version: 1,
      versions: [1],
    });
    expect(await store.delete('f')).toEqual({ name: 'f', deleted: [1] });
    expect((await store.list()).map((skill) => skill.name)).toEqual(['g']);
    expect((await refusal(store.delete('f'))).message).toBe("no skill named 'f'; saved skills: g");
    expect((await refusal(store.delete('g', 5))).message).toBe("skill 'g' has no version 5; it has 1");
    expect((await refusal(store.delete('../skills/g'))).code).toBe('UNKNOWN_SKILL');
    expect((await refusal(store.read('..'))).code).toBe('UNKNOWN_SKILL');
    expect(readdirSync(dir).filter((name) => !name.startsWith('.'))).toEqual(['g']);
  });

  it('enforces the number of skills, their total size, and names that differ only in case', async () => {
    const small = new SkillStore({ dir, maxSkills: 2, maxTotalBytes: 100 });
    await small.save(draft('a'));
    await small.save(draft('b'));
    expect((await refusal(small.save(draft('c')))).message).toMatch(/holds 2 skills, the limit/);
    await small.save(draft('a', 'return 2')); // a new version of an existing skill is fine
    expect((await refusal(small.save(draft('a', `return "${'x'.repeat(100)}"`)))).message).toMatch(/exceed/);
    expect((await refusal(small.save(draft('A')))).message).toMatch(
      /'a' exists, and names that differ only in case/,
    );
  });

  it('loses no version when two writers save the same skill at once', async () => {
    const other = new SkillStore({ dir, maxVersions: 1000 });
    const mine = new SkillStore({ dir, maxVersions: 1000 });
    const saves = Array.from({ length: 40 }, (_, i) =>
      (i % 2 ? other : mine).save(draft('f', `return ${i}`)),
    );
    const outcomes = await Promise.all(saves);
    const versions = outcomes.map((outcome) => outcome.version).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    const bodies = new Set(
      readdirSync(join(dir, 'f')).map(
        (file) => decodeSkillFile(readFileSync(join(dir, 'f', file), 'utf8')).source,
      ),
    );
    expect(bodies.size).toBe(40);
    expect(readdirSync(join(dir, '.tmp'))).toEqual([]);
  });
});
