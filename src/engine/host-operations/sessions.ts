/** `list_sessions` and `reset_session`: the calling client's named sessions (engine/sessions.ts), no one else's. */
import { z } from 'zod';
import { HostCallError } from '../../sandbox/types.js';
import type { SessionTable } from '../sessions.js';
import { type HostOperationSpec, hostOperation, ownerOf } from './registry.js';

const MAX_NAME_CHARS = 256;

export function sessionOperations(sessions: SessionTable): HostOperationSpec[] {
  return [
    hostOperation({
      name: 'list_sessions',
      args: z.object({}),
      handler: (_args, context) => sessions.list(ownerOf(context)),
    }),
    hostOperation({
      name: 'reset_session',
      args: z.object({ name: z.string().min(1).max(MAX_NAME_CHARS) }),
      handler: ({ name }, context) => {
        if (name === context.run.sessionName) {
          throw new HostCallError(
            `cannot reset session '${name}' from a program running in it; reset it from another call`,
            'BAD_ARGUMENTS',
          );
        }
        return sessions.reset(ownerOf(context), name);
      },
    }),
  ];
}
