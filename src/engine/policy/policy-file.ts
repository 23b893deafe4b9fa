/**
 * Reads the policy file (`MCP_BRIDGE_POLICY`, JSON or TOML) and the `policy` blocks of config entries
 * into a {@link Policy}. Pure but for reading files. The document is checked against a zod schema
 * first, then compiled; every mistake is a `PolicyFileError` whose message names the file, the line
 * and the rule, because a policy that is silently half-applied is worse than none: unknown keys are
 * mistakes too.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { compileGlob, isPattern } from './glob.js';
import { PatternError } from './linear-regex.js';
import {
  type Budget,
  POLICY_ACTIONS,
  type Policy,
  type RateLimit,
  type RuleSet,
  type TokenizePolicy,
} from './policy.js';
import { BUILTIN_PATTERNS, Tokenizer, type TokenizerSpec } from './tokenizer.js';

export class PolicyFileError extends Error {
  override readonly name = 'PolicyFileError';
}

type Path = ReadonlyArray<string | number>;

/** A policy block of one config entry, as discovery found it. */
export interface EntryPolicy {
  server: string;
  /** The config file it is in. */
  source: string;
  value: unknown;
}

// ---------------------------------------------------------------------------------------- schema

/** What a check says when a value fails it: what it expects, then what it got. */
function expecting(expected: string) {
  return { error: (issue: { input?: unknown }) => `${expected}, got ${describe(issue.input)}` };
}

/** A table whose keys are exactly `shape`'s; another key is a mistake, named with the ones allowed. */
function table<Shape extends z.ZodRawShape>(shape: Shape) {
  const keys = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `unknown key; expected one of ${keys}` : undefined,
  });
}

function wholeNumber(min: number, expected = `expected a whole number ≥ ${min}`) {
  const error = expecting(expected);
  return z.number(error).int(error).min(min, error);
}

const action = z.enum(
  POLICY_ACTIONS as [string, ...string[]],
  expecting('expected "allow", "ask" or "deny"'),
);
const flag = z.boolean(expecting('expected true or false'));
const count = wholeNumber(0);

/** Names or globs: one, or a list of them. */
function names(item: z.ZodString = z.string()) {
  return z.preprocess(
    (value) => (typeof value === 'string' ? [value] : value),
    z.array(item, expecting('expected a list of names or globs')),
  );
}
const name = z
  .string(expecting('expected a non-empty name or glob'))
  .min(1, expecting('expected a non-empty name or glob'));

const SIZE = /^(\d+(?:\.\d+)?)\s*([kmg]?)i?b?$/i;
const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Bytes: a whole number, or a size such as "10m" (binary units). */
const bytes = z.preprocess(
  (value) => {
    const match = typeof value === 'string' ? SIZE.exec(value.trim()) : null;
    if (!match) return value;
    return Math.round(Number(match[1]) * (SIZE_UNITS[(match[2] ?? '').toLowerCase()] ?? 1));
  },
  wholeNumber(0, 'expected a number of bytes or a size such as "10m"'),
);

const rateLimit = table({
  calls: wholeNumber(1),
  per_seconds: z
    .number(expecting('expected a number of seconds > 0 (at most a day)'))
    .gt(0, expecting('expected a number of seconds > 0 (at most a day)'))
    .max(86_400, expecting('expected a number of seconds > 0 (at most a day)'))
    .default(1),
});

/** What every section can say: the top level, a `[servers.<glob>]` table, a config entry's block. */
const rules = {
  default: action.optional(),
  read_only: flag.optional(),
  destructive: action.optional(),
  open_world: action.optional(),
  allow: names(name).optional(),
  ask: names(name).optional(),
  deny: names(name).optional(),
};
const section = table({
  ...rules,
  calls_per_tool: count.optional(),
  tool_calls: count.optional(),
  rate_limit: rateLimit.optional(),
});
type SectionDocument = z.output<typeof section>;

const budget = table({
  tool_calls: count.optional(),
  result_bytes: bytes.optional(),
  calls_per_tool: count.optional(),
  refused_calls: wholeNumber(
    1,
    'expected a whole number ≥ 1 (refusals a run may meet before it is stopped)',
  ).optional(),
});

const KIND = /^[A-Z][A-Z0-9_]{0,31}$/;
const detector = name.refine((value) => Object.hasOwn(BUILTIN_PATTERNS, value), {
  error: (issue) => `unknown detector ${JSON.stringify(issue.input)}; expected email, phone or key`,
});
const target = name.refine((value) => !value.startsWith('.') && !value.endsWith('.'), {
  error: (issue) =>
    `expected a server ("crm") or a server's tool ("crm.send_email"), globs allowed, got ${describe(issue.input)}`,
});

/** One of the user's patterns: a regular expression, or a table with one and `ignore_case`. */
const pattern = z
  .preprocess(
    (value) => (typeof value === 'string' ? { pattern: value } : value),
    table({
      pattern: z
        .string(expecting('expected a regular expression'))
        .min(1, expecting('expected a regular expression')),
      ignore_case: flag.optional(),
    }),
  )
  .superRefine((entry, context) => {
    // Compiled alone here, so a refused pattern is named by its own line and rule.
    const problem = patternProblem({
      kind: 'X',
      source: entry.pattern,
      ignoreCase: entry.ignore_case === true,
    });
    if (problem) context.addIssue({ code: 'custom', message: problem });
  });

const tokenize = table({
  detect: names(detector).optional(),
  patterns: z
    .record(z.string(), pattern)
    .superRefine((patterns, context) => {
      for (const kind of Object.keys(patterns)) {
        if (KIND.test(kind)) continue;
        context.addIssue({
          code: 'custom',
          path: [kind],
          message:
            'a pattern name is its placeholder prefix: capital letters, digits and _ (e.g. EMPLOYEE_ID)',
        });
      }
    })
    .optional(),
  from: names(name).optional(),
  restore_to: names(target).optional(),
}).superRefine((value, context) => {
  if (!value.detect?.length && Object.keys(value.patterns ?? {}).length === 0) {
    context.addIssue({ code: 'custom', message: 'names no detector (detect) and no pattern (patterns)' });
  }
});

const policyDocument = table({
  ...rules,
  budget: budget.optional(),
  servers: z.record(z.string(), section).optional(),
  approval: table({
    without_elicitation: z.enum(['deny', 'allow'], expecting('expected "deny" or "allow"')).optional(),
  }).optional(),
  tokenize: tokenize.optional(),
});

/** The wording of a mistake no check words itself: a value where a table belongs. */
function documentProblem(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code === 'invalid_type' && (issue.expected === 'object' || issue.expected === 'record')) {
    return `expected a table/object, got ${describe(issue.input)}`;
  }
  return undefined;
}

function patternProblem(spec: TokenizerSpec['patterns'][number]): string | undefined {
  try {
    new Tokenizer({ patterns: [spec] });
    return undefined;
  } catch (error) {
    if (error instanceof PatternError) return error.message;
    throw error;
  }
}

// ---------------------------------------------------------------------------------------- reading

/** Where a document came from: its file (and text, for line numbers), and where in it it sits. */
class Origin {
  constructor(
    readonly source: string,
    readonly text: string | undefined,
    readonly prefix: Path = [],
  ) {}

  /** Checks `value` against `schema`; a mistake throws, naming the one that comes first in the file. */
  parse<Schema extends z.ZodType>(schema: Schema, value: unknown, at: Path = []): z.output<Schema> {
    const parsed = schema.safeParse(value, { error: documentProblem });
    if (parsed.success) return parsed.data;
    const mistakes = parsed.error.issues.map((issue) => {
      // An unknown key is reported at the key itself, so the line and the rule are the key's.
      const key = issue.code === 'unrecognized_keys' ? issue.keys.slice(0, 1) : [];
      const path = [
        ...at,
        ...issue.path.map((part) => (typeof part === 'number' ? part : String(part))),
        ...key,
      ];
      return { path, message: issue.message, line: this.#line(path) ?? Number.POSITIVE_INFINITY };
    });
    const first = mistakes.reduce((best, mistake) => (mistake.line < best.line ? mistake : best));
    return this.fail(first.path, first.message);
  }

  fail(path: Path, problem: string): never {
    const line = this.#line(path);
    const rule = [...this.prefix, ...path].map((part, i) =>
      typeof part === 'number' ? `[${part}]` : i === 0 ? part : `.${part}`,
    );
    const where = line === undefined ? this.source : `${this.source}:${line}`;
    throw new PolicyFileError(`${where}: policy rule ${rule.join('') || '(top level)'}: ${problem}`);
  }

  #line(path: Path): number | undefined {
    return this.text === undefined ? undefined : lineOf(this.text, [...this.prefix, ...path]);
  }
}

// ---------------------------------------------------------------------------------------- compiling

function ruleSet(document: SectionDocument, label: string): RuleSet {
  const set: RuleSet = { label, rules: [] };
  const fields = {
    default: document.default,
    readOnly: document.read_only,
    destructive: document.destructive,
    openWorld: document.open_world,
    callsPerTool: document.calls_per_tool,
    toolCalls: document.tool_calls,
    rateLimit: document.rate_limit && rateLimitOf(document.rate_limit, label),
  };
  for (const [key, field] of Object.entries(fields)) {
    if (field !== undefined) Object.assign(set, { [key]: field });
  }
  for (const action of POLICY_ACTIONS) {
    for (const pattern of document[action] ?? []) {
      const rule = `${label ? `${label}.` : ''}${action}[${JSON.stringify(pattern)}]`;
      set.rules.push({ action, glob: compileGlob(pattern), rule });
    }
  }
  return set;
}

function rateLimitOf(limit: z.output<typeof rateLimit>, label: string): RateLimit {
  return {
    calls: limit.calls,
    perMs: limit.per_seconds * 1000,
    rule: `${label ? `${label}.` : ''}rate_limit`,
  };
}

function budgetOf(document: z.output<typeof budget> | undefined): Budget {
  const budget: Budget = {};
  if (document?.tool_calls !== undefined) budget.toolCalls = document.tool_calls;
  if (document?.result_bytes !== undefined) budget.resultBytes = document.result_bytes;
  if (document?.calls_per_tool !== undefined) budget.callsPerTool = document.calls_per_tool;
  if (document?.refused_calls !== undefined) budget.refusedCalls = document.refused_calls;
  return budget;
}

function tokenizeOf(document: z.output<typeof tokenize>, origin: Origin): TokenizePolicy {
  const spec: TokenizerSpec = { patterns: [] };
  for (const detector of document.detect ?? []) {
    const builtin = BUILTIN_PATTERNS[detector];
    for (const pattern of builtin?.patterns ?? [])
      spec.patterns.push({ kind: builtin?.kind ?? '', ...pattern });
  }
  for (const [kind, entry] of Object.entries(document.patterns ?? {})) {
    spec.patterns.push({ kind, source: entry.pattern, ignoreCase: entry.ignore_case === true });
  }
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(spec);
  } catch (error) {
    // Each pattern compiled alone; together they can still be too many states.
    if (error instanceof PatternError) return origin.fail(['tokenize'], error.message);
    throw error;
  }
  return {
    tokenizer,
    from: (document.from ?? ['*']).map(compileGlob),
    restoreTo: (document.restore_to ?? []).map(compileGlob),
  };
}

/** Compiles a policy document (already parsed from JSON or TOML); `text` lets errors name a line. */
export function compilePolicy(
  doc: unknown,
  source: string,
  text?: string,
  entries: EntryPolicy[] = [],
): Policy {
  const origin = new Origin(source, text);
  const document = origin.parse(policyDocument, doc);
  const servers: Policy['servers'] = Object.entries(document.servers ?? {}).map(([name, value]) => ({
    glob: compileGlob(name),
    exact: !isPattern(name),
    set: ruleSet(value, `servers.${/^[A-Za-z0-9_-]+$/.test(name) ? name : JSON.stringify(name)}`),
  }));
  return {
    source,
    global: ruleSet(document, ''),
    servers,
    entries: compileEntries(entries),
    budget: budgetOf(document.budget),
    withoutElicitation: document.approval?.without_elicitation === 'allow' ? 'allow' : 'deny',
    ...(document.tokenize ? { tokenize: tokenizeOf(document.tokenize, origin) } : {}),
  };
}

/** The `policy` blocks of config entries (a server table's keys), with their files read for line numbers. */
export function compileEntries(entries: readonly EntryPolicy[]): Map<string, RuleSet> {
  const compiled = new Map<string, RuleSet>();
  for (const entry of entries) {
    let text: string | undefined;
    try {
      text = readFileSync(entry.source, 'utf8');
    } catch {
      text = undefined;
    }
    const origin = new Origin(entry.source, text, [entry.server]);
    compiled.set(
      entry.server,
      ruleSet(origin.parse(section, entry.value, ['policy']), `${entry.server}.policy`),
    );
  }
  return compiled;
}

/** A policy with only config-entry blocks (no policy file), or undefined when there are none. */
export function entriesOnlyPolicy(entries: readonly EntryPolicy[]): Policy | undefined {
  if (entries.length === 0) return undefined;
  return {
    source: 'config entries',
    global: { label: '', rules: [] },
    servers: [],
    entries: compileEntries(entries),
    budget: {},
    withoutElicitation: 'deny',
  };
}

/** Reads and compiles the policy file at `path`: TOML when it ends in `.toml`, else JSON. */
export function loadPolicyFile(path: string, entries: EntryPolicy[] = []): Policy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new PolicyFileError(`${path}: cannot read the policy file: ${(error as Error).message}`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let doc: unknown;
  if (extname(path).toLowerCase() === '.toml') {
    try {
      doc = parseToml(text);
    } catch (error) {
      const { line } = error as { line?: number };
      const first = ((error as Error).message ?? String(error)).split('\n', 1)[0];
      throw new PolicyFileError(
        `${path}${typeof line === 'number' ? `:${line}` : ''}: not valid TOML: ${first}`,
      );
    }
  } else {
    try {
      doc = JSON.parse(text);
    } catch (error) {
      const message = ((error as Error).message ?? '').replace(/\s+/g, ' ');
      const position = /at position (\d+)/.exec(message)?.[1];
      const line = position === undefined ? '' : `:${text.slice(0, Number(position)).split('\n').length}`;
      throw new PolicyFileError(`${path}${line}: not valid JSON: ${message}`);
    }
  }
  return compilePolicy(doc, path, text, entries);
}

/**
 * The line a key path is written on, found by searching the text for each key in turn after the
 * previous one (array indexes stay on their list's line). A best effort for messages: JSON and TOML
 * both write a key before what it holds, so the search lands on the right line in ordinary files.
 */
export function lineOf(text: string, path: Path): number | undefined {
  let position = 0;
  let found = false;
  for (const part of path) {
    if (typeof part === 'number') continue;
    const index = findKey(text, part, position);
    if (index === -1) break;
    position = index;
    found = true;
  }
  return found ? text.slice(0, position).split('\n').length : undefined;
}

function findKey(text: string, key: string, from: number): number {
  const isNameChar = (char: string | undefined) => char !== undefined && /[A-Za-z0-9_-]/.test(char);
  for (let index = text.indexOf(key, from); index !== -1; index = text.indexOf(key, index + 1)) {
    const before = text[index - 1];
    const after = text[index + key.length];
    if (!isNameChar(before) && !isNameChar(after)) return index;
  }
  return -1;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a table';
  return JSON.stringify(value) ?? String(value);
}
