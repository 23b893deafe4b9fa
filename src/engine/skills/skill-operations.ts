/**
 * Host side of `save_tool`, `delete_skill` and `list_skills`: the `call` operations through which a
 * program changes the skill store. The sandbox never touches the store's files; these validate every
 * input (skill-rules.ts) and cap what one run may do, then the store writes.
 */
import { HostCallError, type SkillGrant } from '../../sandbox/types.js';
import type { Logger } from '../../shared/logger.js';
import type { HostCallContext, HostOperation } from '../engine.js';
import { localPrincipal, type Principal } from '../principal.js';
import { type SkillNamespaces, visibleGrant } from './skill-namespaces.js';
import { isStoreName, preview, validateSkillDraft } from './skill-rules.js';
import type { StoredSkill } from './skill-store.js';

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
    ...(skill.savedBy ? { savedBy: skill.savedBy.name } : {}),
    ...(skill.source !== undefined ? { source: skill.source } : {}),
    ...(skill.error ? { error: skill.error } : {}),
  };
}

/**
 * The skills a run of `principal` receives: the newest version of each validly named one of its own
 * and of the shared ones (skill-namespaces.ts). A store that cannot be read is logged and gives none;
 * it never fails a run.
 */
export async function skillsForRun(
  namespaces: SkillNamespaces,
  principal: Principal,
  logger: Logger,
): Promise<SkillGrant[]> {
  try {
    const skills = await namespaces.visible(principal);
    return skills
      .filter((skill) => !skill.error?.startsWith('not a valid skill name'))
      .map((skill) => visibleGrant(skill, skillGrant(skill)));
  } catch (error) {
    logger.warn('saved skills are unavailable to this run', { error, principal: principal.id });
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

function sharedArg(value: unknown): boolean {
  if (value === undefined || value === null || value === false) return false;
  if (value === true) return true;
  throw new HostCallError('shared must be True or False', 'BAD_ARGUMENTS');
}

export function skillOperations(namespaces: SkillNamespaces): Record<string, HostOperation> {
  const savesByRun = new WeakMap<HostCallContext, number>();
  const principalOf = (context?: HostCallContext): Principal => context?.principal ?? localPrincipal();
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
      return namespaces.save(principalOf(context), draft, sharedArg(args.shared));
    },

    delete_skill: async (args, _signal, context) => {
      if (!isStoreName(args.name)) {
        throw new HostCallError(`${preview(args.name)} is not a skill name`, 'BAD_ARGUMENTS');
      }
      return namespaces.delete(
        principalOf(context),
        args.name,
        versionArg(args.version),
        sharedArg(args.shared),
      );
    },

    list_skills: async (_args, _signal, context) =>
      (await namespaces.visible(principalOf(context)))
        .filter((skill) => isStoreName(skill.name))
        .map((skill) => visibleGrant(skill, skillGrant(skill))),
  };
}
