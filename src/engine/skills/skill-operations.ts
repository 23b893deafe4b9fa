/**
 * Host side of `save_tool`, `delete_skill` and `list_skills`: the `call` operations through which a
 * program changes the skill store. The sandbox never touches the store's files; these validate every
 * input (skill-rules.ts) and cap what one run may do, then the store writes.
 */
import { HostCallError, type SkillGrant } from '../../sandbox/types.js';
import type { Logger } from '../../shared/logger.js';
import type { HostCallContext, HostOperation } from '../engine.js';
import { isStoreName, preview, validateSkillDraft } from './skill-rules.js';
import type { SkillStore, StoredSkill } from './skill-store.js';

/** Saves one run may make: enough for any real program, and a bound on a loop that saves forever. */
export const MAX_SAVES_PER_RUN = 64;
const MAX_VERSION = 1_000_000_000;

/** A stored skill as a run receives it (`run` frame, `list_skills`): everything but the host's paths. */
export function skillGrant(skill: StoredSkill): SkillGrant {
  return {
    name: skill.name,
    version: skill.version,
    versions: skill.versions,
    description: skill.description,
    signature: skill.signature,
    parameters: skill.parameters,
    isAsync: skill.isAsync,
    servers: skill.servers,
    ...(skill.savedAt ? { savedAt: skill.savedAt } : {}),
    ...(skill.source !== undefined ? { source: skill.source } : {}),
    ...(skill.error ? { error: skill.error } : {}),
  };
}

/**
 * The skills every run receives: the newest version of each validly named one. A store that cannot
 * be read is logged and gives none; it never fails a run.
 */
export async function skillsForRun(store: SkillStore, logger: Logger): Promise<SkillGrant[]> {
  try {
    const skills = await store.list();
    return skills.filter((skill) => !skill.error?.startsWith('not a valid skill name')).map(skillGrant);
  } catch (error) {
    logger.warn('saved skills are unavailable to this run', { error });
    return [];
  }
}

function versionArg(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_VERSION) {
    throw new HostCallError('version must be a positive integer', 'BAD_ARGUMENTS');
  }
  return value;
}

export function skillOperations(store: SkillStore): Record<string, HostOperation> {
  const savesByRun = new WeakMap<HostCallContext, number>();
  return {
    save_skill: async (args, _signal, context) => {
      const draft = validateSkillDraft(args);
      if (context) {
        const saves = (savesByRun.get(context) ?? 0) + 1;
        savesByRun.set(context, saves);
        if (saves > MAX_SAVES_PER_RUN) {
          throw new HostCallError(`a run may save at most ${MAX_SAVES_PER_RUN} skills`, 'SKILL_LIMIT');
        }
      }
      return store.save(draft);
    },

    delete_skill: async (args) => {
      if (!isStoreName(args.name)) {
        throw new HostCallError(`${preview(args.name)} is not a skill name`, 'BAD_ARGUMENTS');
      }
      return store.delete(args.name, versionArg(args.version));
    },

    list_skills: async () => (await store.list()).filter((skill) => isStoreName(skill.name)).map(skillGrant),
  };
}
