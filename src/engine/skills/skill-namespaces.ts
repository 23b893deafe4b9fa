/**
 * Whose skills are whose: every principal saves into a namespace of its own, and a skill reaches the
 * rest of the team only when published on purpose (`save_tool(f, shared=True)`, `codemode-bridge
 * skills publish`). A shared skill may be changed or removed only by its author and admins; every
 * version records who saved it.
 *
 * Layout under `<MCP_BRIDGE_STATE_DIR>/skills/`: the local principal's skills where they always were
 * (`<name>/v<N>.py`, so a single user's skills keep loading with no migration), the shared ones under
 * `.shared/`, every other principal's under `.principals/<digest of its id>/`. Directories starting
 * with a dot are not skills to a store (or to a bridge from before principals), so the namespaces
 * never mix.
 *
 * A run sees its principal's own skills and the shared ones; where both have a name, its own wins
 * (the grant says which shared one it hides), and the program's own names win over both (skills.py).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { HostCallError, type SkillGrant } from '../../sandbox/types.js';
import { LOCAL_PRINCIPAL_ID, type Principal } from '../principal.js';
import { isStoreName, type PrincipalRef, preview, type SkillDraft } from './skill-rules.js';
import { type SaveOutcome, SkillStore, type StoredSkill } from './skill-store.js';

export const SHARED_DIR = '.shared';
export const PRINCIPALS_DIR = '.principals';

/** A skill as one principal sees it: its own, or the team's. */
export interface VisibleSkill extends StoredSkill {
  origin: 'own' | 'shared';
  /** An own skill hiding a shared one of the same name: that one's author and version. */
  shadows?: { author: string; version: number };
}

/** Where a principal's own skills live, relative to the skills directory. */
export function namespaceDir(root: string, principalId: string): string {
  if (principalId === LOCAL_PRINCIPAL_ID) return root;
  // A digest, not the id: an OAuth `sub` may hold any character, and a directory name must not.
  const digest = createHash('sha256').update(principalId).digest('hex').slice(0, 32);
  return join(root, PRINCIPALS_DIR, digest);
}

function refOf(principal: Principal): PrincipalRef {
  return { id: principal.id, name: principal.name };
}

export class SkillNamespaces {
  readonly root: string;
  readonly shared: SkillStore;
  readonly #own = new Map<string, SkillStore>();
  /** The merged listing per principal, kept while neither store's listing changed (same arrays). */
  readonly #visible = new Map<
    string,
    { own: readonly StoredSkill[]; shared: readonly StoredSkill[]; skills: VisibleSkill[] }
  >();

  constructor(root: string) {
    this.root = root;
    this.shared = new SkillStore({ dir: join(root, SHARED_DIR), label: 'the shared skills' });
  }

  /** A principal's own namespace. */
  own(principalId: string): SkillStore {
    let store = this.#own.get(principalId);
    if (!store) {
      const label = principalId === LOCAL_PRINCIPAL_ID ? 'the store' : 'your namespace';
      store = new SkillStore({ dir: namespaceDir(this.root, principalId), label });
      this.#own.set(principalId, store);
    }
    return store;
  }

  /**
   * What `principal`'s runs receive: its own skills, then the shared ones it has no name for, sorted
   * by name. The same array while nothing changed (callers cache on its identity).
   */
  async visible(principal: Principal): Promise<VisibleSkill[]> {
    const [own, shared] = await Promise.all([this.own(principal.id).list(), this.shared.list()]);
    const cached = this.#visible.get(principal.id);
    if (cached?.own === own && cached.shared === shared) return cached.skills;
    const sharedByName = new Map(shared.map((skill) => [skill.name, skill]));
    const skills: VisibleSkill[] = own.map((skill) => {
      const hidden = sharedByName.get(skill.name);
      return {
        ...skill,
        origin: 'own' as const,
        ...(hidden ? { shadows: { author: authorName(hidden), version: hidden.version } } : {}),
      };
    });
    const ownNames = new Set(own.map((skill) => skill.name));
    for (const skill of shared) if (!ownNames.has(skill.name)) skills.push({ ...skill, origin: 'shared' });
    skills.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.#visible.set(principal.id, { own, shared, skills });
    return skills;
  }

  /**
   * Saves a new version into `principal`'s namespace, or (`shared`) publishes it: a shared name
   * belongs to whoever published it first, and only they and admins may add versions. Publishing
   * moves the skill: an own one of the same name is removed, so the author uses what the team uses.
   */
  async save(
    principal: Principal,
    draft: SkillDraft,
    shared: boolean,
  ): Promise<SaveOutcome & { shared?: true }> {
    if (!shared) return this.own(principal.id).save(draft, { savedBy: refOf(principal) });
    const author = await this.#mayChangeShared(principal, draft.name);
    const outcome = await this.shared.save(draft, {
      savedBy: refOf(principal),
      author: author ?? refOf(principal),
    });
    const own = this.own(principal.id);
    if ((await own.list()).some((skill) => skill.name === draft.name)) await own.delete(draft.name);
    return { ...outcome, shared: true };
  }

  /**
   * Deletes from `principal`'s namespace, or (`shared`) from the shared skills, which only the
   * author and admins may. An own name that does not exist but is shared says how to reach that one.
   */
  async delete(
    principal: Principal,
    name: string,
    version: number | undefined,
    shared: boolean,
  ): Promise<{ name: string; deleted: number[]; shared?: true }> {
    if (!isStoreName(name)) throw new HostCallError(`${preview(name)} is not a skill name`, 'UNKNOWN_SKILL');
    if (shared) {
      await this.#mayChangeShared(principal, name);
      return { ...(await this.shared.delete(name, version)), shared: true };
    }
    const own = this.own(principal.id);
    if (!(await own.list()).some((skill) => skill.name === name)) {
      const published = (await this.shared.list()).find((skill) => skill.name === name);
      if (published) {
        throw new HostCallError(
          `'${name}' is a shared skill published by ${authorName(published)}, not one of yours; ` +
            `delete_skill('${name}', shared=True) removes it (its author and admins only)`,
          'UNKNOWN_SKILL',
        );
      }
    }
    return own.delete(name, version);
  }

  /**
   * Publishes the newest version of one of `principal`'s own skills (the CLI's `skills publish`):
   * a new shared version recording the principal, then the own copy is removed.
   */
  async publish(principal: Principal, name: string): Promise<SaveOutcome> {
    const own = this.own(principal.id);
    const found = await own.read(name);
    const header = found.header;
    const draft: SkillDraft = {
      name,
      source: found.source,
      description: header.description ?? '',
      signature: header.signature ?? '',
      parameters: header.parameters ?? [],
      isAsync: header.isAsync ?? false,
      servers: header.servers ?? [],
    };
    return this.save(principal, draft, true);
  }

  /** The author of shared skill `name` (undefined: not shared yet); throws when `principal` may not change it. */
  async #mayChangeShared(principal: Principal, name: string): Promise<PrincipalRef | undefined> {
    const existing = (await this.shared.list()).find((skill) => skill.name === name);
    if (!existing) return undefined;
    const author = existing.author ?? existing.savedBy;
    if (principal.role === 'admin' || author === undefined || author.id === principal.id) return author;
    throw new HostCallError(
      `the shared skill '${name}' was published by ${author.name}; only its author and admins may change ` +
        `or delete it. Save yours without shared=True (it is then yours alone, and wins over the shared one ` +
        `in your runs), or under another name`,
      'FORBIDDEN',
    );
  }
}

function authorName(skill: StoredSkill): string {
  return (skill.author ?? skill.savedBy)?.name ?? 'an unknown author';
}

/** A visible skill as a run receives it. */
export function visibleGrant(skill: VisibleSkill, grant: SkillGrant): SkillGrant {
  return {
    ...grant,
    origin: skill.origin,
    ...(skill.savedBy ? { savedBy: skill.savedBy.name } : {}),
    ...(skill.origin === 'shared' ? { author: authorName(skill) } : {}),
    ...(skill.shadows ? { shadows: skill.shadows } : {}),
  };
}
