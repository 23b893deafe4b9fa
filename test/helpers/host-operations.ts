/**
 * Host operations called as the engine calls them: through the one table (argument schemas checked),
 * with the context a run's call carries. For the stores' and families' unit tests.
 */
import { type HostOperationSpec, HostOperations } from '../../src/engine/host-operations/registry.js';
import { RunRecord } from '../../src/engine/run-record.js';
import type { CallContext } from '../../src/engine/types.js';
import type { ReplyChannel } from '../../src/sandbox/types.js';

export type HostCall = (
  op: string,
  args: Record<string, unknown>,
  run: CallContext,
  replies?: ReplyChannel,
) => Promise<unknown>;

/** Calls `specs` through a table of their own; each call gets a fresh run record unless `record` is given. */
export function hostCaller(specs: readonly HostOperationSpec[], record?: RunRecord): HostCall {
  const table = new HostOperations(specs);
  const signal = new AbortController().signal;
  return (op, args, run, replies) =>
    table.call(op, args, { run, record: record ?? new RunRecord(1000), replies }, signal);
}
