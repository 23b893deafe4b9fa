/**
 * Reads the policy file (`MCP_BRIDGE_POLICY`, JSON or TOML) and the `policy` blocks of config entries
 * into a {@link Policy}. Pure but for reading files; every mistake is a `PolicyFileError` whose
 * message names the file, the line and the rule, because a policy that is silently half-applied is
 * worse than none: unknown keys are mistakes too.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { compileGlob, isPattern } from './glob.js';
import { PatternError } from './linear-regex.js';
import {
  type Budget,
  POLICY_ACTIONS,
  type Policy,
  type PolicyAction,
  type RateLimit,
  type RuleSet,
  type TokenizePolicy,
} from './policy.js';
import { BUILTIN_PATTERNS, Tokenizer, type TokenizerSpec } from './tokenizer.js';

export class PolicyFileError extends Error {
  override readonly name = 'PolicyFileError';
}

type Path = ReadonlyArray<string | number>;
type Raw = Record<string, unknown>;

/** A policy block of one config entry, as discovery found it. */
export interface EntryPolicy {
  server: string;
  /** The config file it is in. */
  source: string;
  value: unknown;
}

const SECTION_KEYS = [
  'default',
  'read_only',
  'destructive',
  'open_world',
  'allow',
  'ask',
  'deny',
  'calls_per_tool',
  'tool_calls',
  'rate_limit',
];
const TOP_KEYS = [
  'default',
  'read_only',
  'destructive',
  'open_world',
  'allow',
  'ask',
  'deny',
  'budget',
  'servers',
  'approval',
  'tokenize',
];
const KIND = /^[A-Z][A-Z0-9_]{0,31}$/;

class Reader {
  constructor(
    readonly source: string,
    readonly text: string | undefined,
    readonly prefix: Path = [],
  ) {}

  fail(path: Path, problem: string): never {
    const line = this.text === undefined ? undefined : lineOf(this.text, [...this.prefix, ...path]);
    const rule = [...this.prefix, ...path].map((part, i) =>
      typeof part === 'number' ? `[${part}]` : i === 0 ? part : `.${part}`,
    );
    const where = line === undefined ? this.source : `${this.source}:${line}`;
    throw new PolicyFileError(`${where}: policy rule ${rule.join('') || '(top level)'}: ${problem}`);
  }

  record(value: unknown, path: Path, keys: readonly string[]): Raw {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.fail(path, `expected a table/object, got ${describe(value)}`);
    }
    for (const key of Object.keys(value)) {
      if (!keys.includes(key)) this.fail([...path, key], `unknown key; expected one of ${keys.join(', ')}`);
    }
    return value as Raw;
  }

  action(value: unknown, path: Path): PolicyAction | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !(POLICY_ACTIONS as readonly string[]).includes(value)) {
      this.fail(path, `expected "allow", "ask" or "deny", got ${describe(value)}`);
    }
    return value as PolicyAction;
  }

  boolean(value: unknown, path: Path): boolean | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'boolean') this.fail(path, `expected true or false, got ${describe(value)}`);
    return value;
  }

  count(value: unknown, path: Path): number | undefined {
    if (value === undefined) return undefined;
    if (typeof value === 'bigint') value = Number(value);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      this.fail(path, `expected a whole number ≥ 0, got ${describe(value)}`);
    }
    return value;
  }

  bytes(value: unknown, path: Path): number | undefined {
    if (typeof value !== 'string') return this.count(value, path);
    const match = /^(\d+(?:\.\d+)?)\s*([kmg]?)i?b?$/i.exec(value.trim());
    if (!match) this.fail(path, `expected a number of bytes or a size such as "10m", got ${describe(value)}`);
    const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(match[2] ?? '').toLowerCase()] ?? 1;
    return Math.round(Number(match[1]) * unit);
  }

  strings(value: unknown, path: Path): string[] {
    if (value === undefined) return [];
    const list = typeof value === 'string' ? [value] : value;
    if (!Array.isArray(list)) this.fail(path, `expected a list of names or globs, got ${describe(value)}`);
    return list.map((item, i) => {
      if (typeof item !== 'string' || item === '') {
        this.fail([...path, i], `expected a non-empty name or glob, got ${describe(item)}`);
      }
      return item;
    });
  }

  section(value: unknown, path: Path, label: string, keys: readonly string[] = SECTION_KEYS): RuleSet {
    const raw = this.record(value, path, keys);
    const set: RuleSet = { label, rules: [] };
    const fields = {
      default: this.action(raw.default, [...path, 'default']),
      readOnly: this.boolean(raw.read_only, [...path, 'read_only']),
      destructive: this.action(raw.destructive, [...path, 'destructive']),
      openWorld: this.action(raw.open_world, [...path, 'open_world']),
      callsPerTool: this.count(raw.calls_per_tool, [...path, 'calls_per_tool']),
      toolCalls: this.count(raw.tool_calls, [...path, 'tool_calls']),
      rateLimit: this.rateLimit(raw.rate_limit, [...path, 'rate_limit'], label),
    };
    for (const [key, field] of Object.entries(fields)) {
      if (field !== undefined) Object.assign(set, { [key]: field });
    }
    for (const action of POLICY_ACTIONS) {
      this.strings(raw[action], [...path, action]).forEach((pattern) => {
        const rule = `${label ? `${label}.` : ''}${action}[${JSON.stringify(pattern)}]`;
        set.rules.push({ action, glob: compileGlob(pattern), rule });
      });
    }
    return set;
  }

  rateLimit(value: unknown, path: Path, label: string): RateLimit | undefined {
    if (value === undefined) return undefined;
    const raw = this.record(value, path, ['calls', 'per_seconds']);
    const calls = this.count(raw.calls, [...path, 'calls']);
    const seconds = raw.per_seconds ?? 1;
    if (calls === undefined || calls < 1) this.fail([...path, 'calls'], 'expected a whole number ≥ 1');
    if (typeof seconds !== 'number' || !(seconds > 0) || seconds > 86_400) {
      this.fail(
        [...path, 'per_seconds'],
        `expected a number of seconds > 0 (at most a day), got ${describe(seconds)}`,
      );
    }
    return { calls, perMs: seconds * 1000, rule: `${label ? `${label}.` : ''}rate_limit` };
  }

  budget(value: unknown): Budget {
    if (value === undefined) return {};
    const raw = this.record(
      value,
      ['budget'],
      ['tool_calls', 'result_bytes', 'calls_per_tool', 'refused_calls'],
    );
    const budget: Budget = {};
    const toolCalls = this.count(raw.tool_calls, ['budget', 'tool_calls']);
    const resultBytes = this.bytes(raw.result_bytes, ['budget', 'result_bytes']);
    const callsPerTool = this.count(raw.calls_per_tool, ['budget', 'calls_per_tool']);
    const refusedCalls = this.count(raw.refused_calls, ['budget', 'refused_calls']);
    if (refusedCalls === 0) {
      this.fail(
        ['budget', 'refused_calls'],
        'expected a whole number ≥ 1 (refusals a run may meet before it is stopped)',
      );
    }
    if (toolCalls !== undefined) budget.toolCalls = toolCalls;
    if (resultBytes !== undefined) budget.resultBytes = resultBytes;
    if (callsPerTool !== undefined) budget.callsPerTool = callsPerTool;
    if (refusedCalls !== undefined) budget.refusedCalls = refusedCalls;
    return budget;
  }

  tokenize(value: unknown): TokenizePolicy | undefined {
    if (value === undefined) return undefined;
    const path = ['tokenize'];
    const raw = this.record(value, path, ['detect', 'patterns', 'from', 'restore_to']);
    const spec: TokenizerSpec = { patterns: [] };
    for (const [i, name] of this.strings(raw.detect, [...path, 'detect']).entries()) {
      const builtin = Object.hasOwn(BUILTIN_PATTERNS, name) ? BUILTIN_PATTERNS[name] : undefined;
      if (!builtin) {
        this.fail(
          [...path, 'detect', i],
          `unknown detector ${JSON.stringify(name)}; expected email, phone or key`,
        );
      }
      for (const pattern of builtin.patterns) spec.patterns.push({ kind: builtin.kind, ...pattern });
    }
    if (raw.patterns !== undefined) {
      const patterns = this.record(raw.patterns, [...path, 'patterns'], Object.keys(raw.patterns as object));
      for (const [kind, entry] of Object.entries(patterns)) {
        const at = [...path, 'patterns', kind];
        if (!KIND.test(kind)) {
          this.fail(
            at,
            'a pattern name is its placeholder prefix: capital letters, digits and _ (e.g. EMPLOYEE_ID)',
          );
        }
        const spelled =
          typeof entry === 'string' ? { pattern: entry } : this.record(entry, at, ['pattern', 'ignore_case']);
        if (typeof spelled.pattern !== 'string' || spelled.pattern === '') {
          this.fail([...at, 'pattern'], `expected a regular expression, got ${describe(spelled.pattern)}`);
        }
        const ignoreCase = this.boolean(spelled.ignore_case, [...at, 'ignore_case']) === true;
        try {
          new Tokenizer({ patterns: [{ kind, source: spelled.pattern, ignoreCase }] });
        } catch (error) {
          if (error instanceof PatternError) this.fail(at, error.message);
          throw error;
        }
        spec.patterns.push({ kind, source: spelled.pattern, ignoreCase });
      }
    }
    if (spec.patterns.length === 0) this.fail(path, 'names no detector (detect) and no pattern (patterns)');
    const globs = (key: string, fallback: string[]) =>
      (raw[key] === undefined ? fallback : this.strings(raw[key], [...path, key])).map(compileGlob);
    const restoreTo = globs('restore_to', []);
    restoreTo.forEach((glob, i) => {
      if (glob.source.startsWith('.') || glob.source.endsWith('.')) {
        this.fail(
          [...path, 'restore_to', i],
          `expected a server ("crm") or a server's tool ("crm.send_email"), globs allowed, got ${describe(glob.source)}`,
        );
      }
    });
    return { tokenizer: new Tokenizer(spec), from: globs('from', ['*']), restoreTo };
  }
}

/** Compiles a policy document (already parsed from JSON or TOML); `text` lets errors name a line. */
export function compilePolicy(
  doc: unknown,
  source: string,
  text?: string,
  entries: EntryPolicy[] = [],
): Policy {
  const reader = new Reader(source, text);
  const raw = reader.record(doc, [], TOP_KEYS);
  const global = reader.section(
    Object.fromEntries(Object.entries(raw).filter(([key]) => SECTION_KEYS.includes(key))),
    [],
    '',
  );
  const servers: Policy['servers'] = [];
  if (raw.servers !== undefined) {
    const tables = reader.record(raw.servers, ['servers'], Object.keys(raw.servers as object));
    for (const [name, value] of Object.entries(tables)) {
      const label = `servers.${/^[A-Za-z0-9_-]+$/.test(name) ? name : JSON.stringify(name)}`;
      servers.push({
        glob: compileGlob(name),
        exact: !isPattern(name),
        set: reader.section(value, ['servers', name], label),
      });
    }
  }
  let withoutElicitation: Policy['withoutElicitation'] = 'deny';
  if (raw.approval !== undefined) {
    const approval = reader.record(raw.approval, ['approval'], ['without_elicitation']);
    const value = approval.without_elicitation ?? 'deny';
    if (value !== 'deny' && value !== 'allow') {
      reader.fail(['approval', 'without_elicitation'], `expected "deny" or "allow", got ${describe(value)}`);
    }
    withoutElicitation = value as Policy['withoutElicitation'];
  }
  const tokenize = reader.tokenize(raw.tokenize);
  return {
    source,
    global,
    servers,
    entries: compileEntries(entries),
    budget: reader.budget(raw.budget),
    withoutElicitation,
    ...(tokenize ? { tokenize } : {}),
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
    const reader = new Reader(entry.source, text, [entry.server]);
    compiled.set(entry.server, reader.section(entry.value, ['policy'], `${entry.server}.policy`));
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
  return JSON.stringify(typeof value === 'bigint' ? Number(value) : value) ?? String(value);
}
