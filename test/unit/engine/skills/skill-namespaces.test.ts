/**
 * Skills per principal: own namespaces, publishing, who may change a shared skill, which one a name
 * gives, and the local user's skills where they always were (a store from before principals loads).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { skillOperations } from '../../../../src/engine/host-operations/skills.js';
import type { Principal } from '../../../../src/engine/principal.js';
import { localPrincipal } from '../../../../src/engine/principal.js';
import { skillsForRun } from '../../../../src/engine/skills/skill-grant.js';
import { namespaceDir, SkillNamespaces } from '../../../../src/engine/skills/skill-namespaces.js';
import type { SkillDraft } from '../../../../src/engine/skills/skill-rules.js';
import { createLogger } from '../../../../src/shared/logger.js';
import { hostCaller } from '../../../helpers/host-operations.js';

const alice: Principal = { id: 'alice', name: 'Alice', role: 'user' };
const bob: Principal = { id: 'bob', name: 'Bob', role: 'user' };
const admin: Principal = { id: 'ops', name: 'Ops', role: 'admin' };

function draft(name: string, body = 'return 1'): SkillDraft {
  return {
    name,
    source: `def ${name}():\n    ${body}\n`,
    description: '',
    signature: '()',
    parameters: [],
    isAsync: false,
    servers: [],
  };
}

let root: string;
let skills: SkillNamespaces;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'codemode-skill-ns-'));
  skills = new SkillNamespaces(join(root, 'skills'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('skill namespaces', () => {
  it("keep each principal's skills its own, recording who saved each version", async () => {
    await skills.save(alice, draft('report', 'return "alice"'), false);
    await skills.save(bob, draft('report', 'return "bob"'), false);
    const seenByAlice = await skills.visible(alice);
    const seenByBob = await skills.visible(bob);
    expect(seenByAlice.map((s) => [s.name, s.origin, s.savedBy?.name])).toEqual([['report', 'own', 'Alice']]);
    expect(seenByAlice[0]?.source).toContain('"alice"');
    expect(seenByBob[0]?.source).toContain('"bob"');
    expect(await skills.visible(localPrincipal())).toEqual([]);
  });

  it('share a published skill with everyone, read-only to all but its author and admins', async () => {
    await skills.save(alice, draft('tally'), true);
    const forBob = await skills.visible(bob);
    expect(forBob.map((s) => [s.name, s.origin, s.author?.name])).toEqual([['tally', 'shared', 'Alice']]);

    await expect(skills.save(bob, draft('tally', 'return 2'), true)).rejects.toMatchObject({
      code: 'FORBIDDEN',
      message: expect.stringContaining('published by Alice; only its author and admins'),
    });
    await expect(skills.delete(bob, 'tally', undefined, true)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(skills.delete(bob, 'tally', undefined, false)).rejects.toThrow(
      "'tally' is a shared skill published by Alice, not one of yours",
    );

    const second = await skills.save(alice, draft('tally', 'return 2'), true);
    expect(second.version).toBe(2);
    const third = await skills.save(admin, draft('tally', 'return 3'), true);
    expect(third.version).toBe(3);
    const [shared] = await skills.visible(bob);
    // The author stays who published it first; each version says who saved it.
    expect([shared?.version, shared?.author?.name, shared?.savedBy?.name]).toEqual([3, 'Alice', 'Ops']);
    expect((await skills.shared.read('tally', 2)).header.savedBy?.name).toBe('Alice');
    await skills.delete(admin, 'tally', undefined, true);
    expect(await skills.visible(bob)).toEqual([]);
  });

  it("give a principal's own skill over a shared one of the same name, saying which it hides", async () => {
    await skills.save(alice, draft('fetch_all', 'return "team"'), true);
    await skills.save(bob, draft('fetch_all', 'return "mine"'), false);
    const grants = await skillsForRun(skills, bob, createLogger('error'));
    expect(grants).toMatchObject([
      { name: 'fetch_all', origin: 'own', savedBy: 'Bob', shadows: { author: 'Alice', version: 1 } },
    ]);
    expect(grants[0]?.source).toContain('"mine"');
    const forAlice = await skillsForRun(skills, alice, createLogger('error'));
    expect(forAlice).toMatchObject([{ name: 'fetch_all', origin: 'shared', author: 'Alice' }]);
  });

  it('publish moves the newest own version into the shared skills', async () => {
    await skills.save(alice, draft('helper', 'return 1'), false);
    await skills.save(alice, draft('helper', 'return 2'), false);
    const published = await skills.publish(alice, 'helper');
    expect(published.version).toBe(1);
    const [seen] = await skills.visible(alice);
    expect([seen?.origin, seen?.author?.name]).toEqual(['shared', 'Alice']);
    expect(seen?.source).toContain('return 2');
    await expect(skills.publish(bob, 'helper')).rejects.toMatchObject({ code: 'UNKNOWN_SKILL' });
  });

  it("keep the local user's skills where a bridge before principals wrote them", async () => {
    const legacy = join(root, 'skills', 'old_one');
    mkdirSync(legacy, { recursive: true });
    writeFileSync(
      join(legacy, 'v1.py'),
      '# codemode-bridge skill: {"name":"old_one","savedAt":"2026-01-01T00:00:00Z","description":"","signature":"()","parameters":[],"isAsync":false,"servers":[]}\ndef old_one():\n    return 1\n',
    );
    expect(namespaceDir(join(root, 'skills'), localPrincipal().id)).toBe(join(root, 'skills'));
    const seen = await skills.visible(localPrincipal());
    expect(seen.map((s) => [s.name, s.origin, s.error])).toEqual([['old_one', 'own', undefined]]);
    // Another principal's namespace and the shared skills are not skills of the local store.
    await skills.save(alice, draft('mine'), false);
    await skills.save(alice, draft('ours'), true);
    expect((await skills.own(localPrincipal().id).list()).map((s) => s.name)).toEqual(['old_one']);
    expect(readdirSync(join(root, 'skills')).sort()).toEqual(
      ['.principals', '.shared', '.tmp', 'old_one'].filter(
        (entry) => entry !== '.tmp' || existsSync(join(root, 'skills', '.tmp')),
      ),
    );
  });

  it('take the principal and `shared` from the run in the host operations', async () => {
    const call = hostCaller(skillOperations(skills));
    const source = 'def shout():\n    return 1\n';
    await call('save_skill', { name: 'shout', source, shared: true }, { runId: 'r1', principal: alice });
    await expect(
      call('save_skill', { name: 'shout', source, shared: 'yes' }, { runId: 'r2', principal: alice }),
    ).rejects.toMatchObject({ code: 'BAD_ARGUMENTS' });
    const listed = (await call('list_skills', {}, { runId: 'r3', principal: bob })) as Array<
      Record<string, unknown>
    >;
    expect(listed).toMatchObject([{ name: 'shout', origin: 'shared', author: 'Alice', savedBy: 'Alice' }]);
    await expect(
      call('delete_skill', { name: 'shout', shared: true }, { runId: 'r4', principal: bob }),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });
});
