/** `read_output`: pages through a run's stdout that the output cap elided (engine/output-store.ts keeps it). */
import { z } from 'zod';
import type { OutputStore } from '../output-store.js';
import { type HostOperationSpec, hostOperation, ownerOf } from './registry.js';

/** One page: what a program can print back without its own output being cut. */
const MAX_PAGE_CHARS = 1_000_000;
const DEFAULT_PAGE_CHARS = 10_000;

export function outputOperations(store: OutputStore): HostOperationSpec[] {
  return [
    hostOperation({
      name: 'read_output',
      args: z.object({
        handle: z.string(),
        offset: z.number().int().min(0).default(0),
        length: z.number().int().min(0).max(MAX_PAGE_CHARS).default(DEFAULT_PAGE_CHARS),
      }),
      handler: ({ handle, offset, length }, context) => store.read(handle, offset, length, ownerOf(context)),
    }),
  ];
}
