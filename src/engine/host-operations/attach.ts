/** `attach`: one file the program returns to the client with its result (engine/run-record.ts bounds them). */
import { z } from 'zod';
import { HostCallError } from '../../sandbox/types.js';
import { argumentName, describeValue, type HostOperationSpec, hostOperation } from './registry.js';

const MAX_NAME_CHARS = 256;

export function attachOperations(): HostOperationSpec[] {
  return [
    hostOperation({
      name: 'attach',
      // Checked here, as the sandbox is untrusted; what a client may render is decided when the result
      // is built (server/attachments.ts).
      args: z.object({
        mimeType: z.string().regex(/^[a-z]+\/[A-Za-z0-9.+-]{1,100}$/, {
          error: (issue) =>
            `${argumentName(issue)} must be a MIME type such as image/png, not ${describeValue(issue.input)}`,
        }),
        data: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, {
          error: (issue) => `${argumentName(issue)} must be base64`,
        }),
        name: z.string().max(MAX_NAME_CHARS).optional(),
      }),
      handler: ({ mimeType, data, name }, context) => {
        const refused = context.record.attach({ mimeType, data, ...(name !== undefined ? { name } : {}) });
        if (refused) throw new HostCallError(`attach: ${refused}`, 'RESULT_TOO_LARGE');
        return { attached: context.record.attachments.length };
      },
    }),
  ];
}
