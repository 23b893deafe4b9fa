/**
 * Skills: `save_skill`, `delete_skill` and `list_skills`, the operations through which a program
 * changes the skill store. The sandbox never touches the store's files: a save is checked here
 * (skill-rules.ts: the draft's own rules, refused as `INVALID_SKILL`) and capped per run, then the
 * store writes. Each works in the namespace of the run's principal, or (`shared`) on the team's
 * shared skills (skill-namespaces.ts says who may change those).
 */
import { z } from 'zod';
import { HostCallError } from '../../sandbox/types.js';
import { localPrincipal, type Principal } from '../principal.js';
import { skillGrant } from '../skills/skill-grant.js';
import { type SkillNamespaces, visibleGrant } from '../skills/skill-namespaces.js';
import { isStoreName, preview, validateSkillDraft } from '../skills/skill-rules.js';
import type { CallContext } from '../types.js';
import { type HostOperationSpec, hostOperation } from './registry.js';

/** Saves one run may make: enough for any real program, and a bound on a loop that saves forever. */
export const MAX_SAVES_PER_RUN = 64;
const MAX_VERSION = 1_000_000_000;

/** `shared=True` publishes to (or deletes from) the team's skills; absent or None is the caller's own. */
const shared = z.boolean().nullish();

function principalOf(run: CallContext): Principal {
  return run.principal ?? localPrincipal();
}

export function skillOperations(namespaces: SkillNamespaces): HostOperationSpec[] {
  const savesByRun = new WeakMap<CallContext, number>();
  return [
    hostOperation({
      name: 'save_skill',
      // The draft's fields are the skill rules' to check: they refuse with INVALID_SKILL, saying which rule.
      args: z.looseObject({ shared }),
      handler: async (args, context) => {
        const draft = validateSkillDraft(args);
        const saves = (savesByRun.get(context.run) ?? 0) + 1;
        savesByRun.set(context.run, saves);
        if (saves > MAX_SAVES_PER_RUN) {
          throw new HostCallError(`a run may save at most ${MAX_SAVES_PER_RUN} skills`, 'SKILL_LIMIT');
        }
        return namespaces.save(principalOf(context.run), draft, args.shared === true);
      },
    }),
    hostOperation({
      name: 'delete_skill',
      args: z.object({
        name: z.custom<string>(isStoreName, {
          error: (issue) => `${preview(issue.input)} is not a skill name`,
        }),
        version: z.number().int().min(1).max(MAX_VERSION).nullish(),
        shared,
      }),
      handler: ({ name, version, shared }, context) =>
        namespaces.delete(principalOf(context.run), name, version ?? undefined, shared === true),
    }),
    hostOperation({
      name: 'list_skills',
      args: z.object({}),
      handler: async (_args, context) =>
        (await namespaces.visible(principalOf(context.run)))
          .filter((skill) => isStoreName(skill.name))
          .map((skill) => visibleGrant(skill, skillGrant(skill))),
    }),
  ];
}
