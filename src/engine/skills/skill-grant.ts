/** Saved skills as runs receive them: in the `run` frame, in `list_skills`, in search hits. */
import type { SkillGrant } from '../../sandbox/types.js';
import type { Logger } from '../../shared/logger.js';
import type { Principal } from '../principal.js';
import { type SkillNamespaces, visibleGrant } from './skill-namespaces.js';
import type { StoredSkill } from './skill-store.js';

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
