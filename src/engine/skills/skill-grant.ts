/** Saved skills as runs receive them: in the `run` frame, in `list_skills`, in search hits. */
import type { SkillGrant } from '../../sandbox/types.js';
import type { Logger } from '../../shared/logger.js';
import type { SkillStore, StoredSkill } from './skill-store.js';

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
