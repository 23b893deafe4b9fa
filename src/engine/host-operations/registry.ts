/**
 * The host operations a program may call (`call` frames, `SandboxHost.callHost`): one table of name →
 * argument schema → handler. A call is looked up by the table's own names (a frame naming `constructor`
 * or `__proto__` finds nothing), its arguments are parsed with the operation's zod schema, and only
 * then does the handler run. A mistake in the arguments is `BAD_ARGUMENTS`, worded the same way for
 * every operation: which argument, the offending value or its size, and what is accepted.
 *
 * Each family of operations (discovery, skills, values, outputs, sessions, attach) is a module beside
 * this one that returns its specs; the engine builds the table from them. The sandbox runtimes send
 * these names (runtime/python, runtime/typescript); test/unit/engine/host-operations/names.test.ts
 * checks that both sides name the same operations.
 */
import type { z } from 'zod';
import { HostCallError, type ReplyChannel } from '../../sandbox/types.js';
import { groupDigits } from '../../shared/digits.js';
import type { RunRecord } from '../run-record.js';
import { type CallContext, DEFAULT_OWNER } from '../types.js';

/** What a host operation knows of the call it serves. */
export interface HostCallContext {
  /** The run the call belongs to: one object for all of its calls (a WeakMap key), its owner and session. */
  readonly run: CallContext;
  /** The run's record: what it returns beside its output (`attach`). */
  readonly record: RunRecord;
  /** How far behind the program is in reading replies, for an operation that makes large ones. */
  readonly replies: ReplyChannel | undefined;
}

/** One host operation: its name, the schema its arguments must pass, and what it does with them. */
export interface HostOperationSpec<Schema extends z.ZodType = z.ZodType> {
  readonly name: string;
  /** The arguments as the program sends them (a JSON object); what the handler receives is its output. */
  readonly args: Schema;
  /** Throws `HostCallError` (or `BridgeError`, which the engine turns into one) for what the program sees. */
  handler(args: z.output<Schema>, context: HostCallContext, signal: AbortSignal): unknown;
}

/** A spec, with its handler's arguments typed by its schema. */
export function hostOperation<Schema extends z.ZodType>(spec: HostOperationSpec<Schema>): HostOperationSpec {
  return spec;
}

/** The owner (a principal) a call's run belongs to. */
export function ownerOf(context: HostCallContext): string {
  return context.run.owner ?? DEFAULT_OWNER;
}

/** The table: every operation by name, called with its arguments checked. */
export class HostOperations {
  readonly #specs = new Map<string, HostOperationSpec>();
  readonly names: readonly string[];

  constructor(specs: Iterable<HostOperationSpec>) {
    for (const spec of specs) {
      if (this.#specs.has(spec.name)) throw new Error(`host operation '${spec.name}' is defined twice`);
      this.#specs.set(spec.name, spec);
    }
    this.names = [...this.#specs.keys()].sort();
  }

  /** Runs `op` with `args`; rejects with `HostCallError` for an unknown name or bad arguments. */
  async call(
    op: string,
    args: Record<string, unknown>,
    context: HostCallContext,
    signal: AbortSignal,
  ): Promise<unknown> {
    const spec = this.#specs.get(op);
    if (!spec) {
      throw new HostCallError(
        `unknown host operation '${op}'; the host offers ${this.names.join(', ')}`,
        'UNKNOWN_OPERATION',
      );
    }
    const parsed = spec.args.safeParse(args, { error: argumentProblem });
    if (!parsed.success) {
      throw new HostCallError(
        `${op}: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`,
        'BAD_ARGUMENTS',
      );
    }
    return spec.handler(parsed.data, context, signal);
  }
}

type Issue = z.core.$ZodRawIssue;

const EXPECTED: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
};

/**
 * The wording of an argument mistake no schema words itself: the argument by name, then what is wrong
 * with it. A schema's own message for a check (`.max(n, { error })`) replaces this one; it names the
 * argument too (`argumentName`).
 */
function argumentProblem(issue: Issue): string {
  const at = argumentName(issue);
  const input: unknown = issue.input;
  switch (issue.code) {
    case 'invalid_type': {
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      return input === undefined
        ? `${at} is missing (${expected})`
        : `${at} must be ${expected}, not ${describeValue(input)}`;
    }
    case 'too_small':
      if (issue.origin === 'string') {
        return Number(issue.minimum) <= 1
          ? `${at} must not be empty`
          : `${at} must be at least ${groupDigits(Number(issue.minimum))} characters`;
      }
      return `${at} must be at least ${groupDigits(Number(issue.minimum))}, not ${describeValue(input)}`;
    case 'too_big':
      if (issue.origin === 'string' && typeof input === 'string') {
        return `${at} is ${groupDigits(input.length)} characters; the limit is ${groupDigits(Number(issue.maximum))}`;
      }
      return `${at} must be at most ${groupDigits(Number(issue.maximum))}, not ${describeValue(input)}`;
    default:
      return `${at} is not valid: ${describeValue(input)}`;
  }
}

/** How a message names the argument an issue is about: `'name'`, `'limits.max'`, or the whole call. */
export function argumentName(issue: { path?: readonly PropertyKey[] }): string {
  return issue.path?.length ? `'${issue.path.map(String).join('.')}'` : 'the arguments';
}

/** A value from a sandbox, for a message: short, and never through its own `toString`. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  return String(value);
}
