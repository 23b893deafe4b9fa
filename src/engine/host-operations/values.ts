/**
 * Saved values: `save_value`, `load_value`, `list_values` and `delete_value`, behind the runtime's
 * `save`, `load`, `list_saved` and `delete_saved` (engine/value-store.ts keeps them). A value travels
 * in slices, one frame each; a load is paged.
 */
import { z } from 'zod';
import type { ValueStore } from '../value-store.js';
import { type HostOperationSpec, hostOperation, ownerOf } from './registry.js';

const MAX_NAME_CHARS = 256;

const valueName = z.string().min(1).max(MAX_NAME_CHARS);
/** A byte count or index: what JSON can carry exactly. */
const count = z.number().int().min(0);

const sliceArguments = z
  .object({ name: valueName, part: count, parts: count, size: count, data: z.string() })
  .refine((slice) => slice.part < slice.parts, {
    path: ['part'],
    error: (issue) => {
      const slice = issue.input as { part: number; parts: number };
      return `'part' is ${slice.part}, but a value of ${slice.parts} parts has parts 0 to ${slice.parts - 1}`;
    },
  });

export function valueOperations(store: ValueStore): HostOperationSpec[] {
  return [
    hostOperation({
      name: 'save_value',
      args: sliceArguments,
      handler: (slice, context) => store.save(slice, context.run.runId, ownerOf(context)),
    }),
    hostOperation({
      name: 'load_value',
      args: z.object({ name: valueName, offset: count.default(0) }),
      handler: (request, context) =>
        store.load(request, context.run.runId, ownerOf(context), context.replies),
    }),
    hostOperation({
      name: 'list_values',
      args: z.object({}),
      handler: (_args, context) => store.list(ownerOf(context)),
    }),
    hostOperation({
      name: 'delete_value',
      args: z.object({ name: valueName }),
      handler: ({ name }, context) => store.delete(name, ownerOf(context)),
    }),
  ];
}
