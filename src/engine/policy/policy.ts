/**
 * The policy as compiled from the policy file (policy-file.ts) and the `policy` blocks of config
 * entries, and the one function that decides a tool: allow, ask or deny, with the rule that said so.
 * docs/policy.md is the user's description of these semantics; keep the two in step.
 */
import { toPythonIdentifier } from '../../upstream/config/alias.js';
import type { Glob } from './glob.js';
import type { Tokenizer } from './tokenizer.js';

export type PolicyAction = 'allow' | 'ask' | 'deny';
export const POLICY_ACTIONS: readonly PolicyAction[] = ['allow', 'ask', 'deny'];

const STRICTNESS: Readonly<Record<PolicyAction, number>> = { allow: 0, ask: 1, deny: 2 };

export interface RateLimit {
  calls: number;
  perMs: number;
  /** The rule's name, for messages. */
  rule: string;
}

/** One section of rules: the file's top level, a `[servers.<glob>]` table, or a config entry's block. */
export interface RuleSet {
  /** Where the section is, as rule names start: `servers.filesystem`; '' for the top level. */
  label: string;
  default?: PolicyAction;
  readOnly?: boolean;
  destructive?: PolicyAction;
  openWorld?: PolicyAction;
  /** allow/ask/deny lists; at the top level the globs match `server.tool`, elsewhere the tool name. */
  rules: Array<{ action: PolicyAction; glob: Glob; rule: string }>;
  callsPerTool?: number;
  toolCalls?: number;
  rateLimit?: RateLimit;
}

export interface Budget {
  /** Calls a run may make or have refused. */
  toolCalls?: number;
  resultBytes?: number;
  callsPerTool?: number;
  /** Refused calls a run may make; past it every call is refused (default: the gate's). */
  refusedCalls?: number;
}

export interface TokenizePolicy {
  tokenizer: Tokenizer;
  /** Servers whose results are tokenized. */
  from: Glob[];
  /**
   * Where placeholders get their real values back: globs over server names (every tool of the server)
   * or over `server.tool` (that tool only). See {@link restoresTo}.
   */
  restoreTo: Glob[];
}

/**
 * Whether a call of `server.tool` gets placeholders' real values: a `restore_to` glob matches the
 * server's name or `server.tool`, as the server has them or as Python code writes them.
 */
export function restoresTo(tokenize: TokenizePolicy, server: string, tool: string): boolean {
  if (tokenize.restoreTo.length === 0) return false;
  const python = { server: toPythonIdentifier(server), tool: toPythonIdentifier(tool) };
  const names = [server, python.server, `${server}.${tool}`, `${python.server}.${python.tool}`];
  return tokenize.restoreTo.some((glob) => names.some((name) => glob.matches(name)));
}

export interface Policy {
  /** The policy file, or where the config-entry blocks came from. */
  source: string;
  global: RuleSet;
  servers: Array<{ glob: Glob; exact: boolean; set: RuleSet }>;
  /** Config entries' `policy` blocks, by server name: they only tighten. */
  entries: ReadonlyMap<string, RuleSet>;
  budget: Budget;
  /** What an `ask` rule does when the client cannot be asked (no elicitation). */
  withoutElicitation: 'deny' | 'allow';
  tokenize?: TokenizePolicy;
}

export interface Decision {
  action: PolicyAction;
  /** The rule that decided, as the user can find it in the file: `servers.filesystem.read_only`. */
  rule: string;
  /** Why, in a few words (shown with refusals and in discovery). */
  reason: string;
}

/** The hints of MCP tool annotations the policy reads; a tool without them is none of the good things. */
export interface ToolHints {
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  openWorldHint?: boolean;
}

/** Not read-only, and not saying `destructiveHint: false`: MCP's defaults make a tool destructive. */
export function isDestructive(hints: ToolHints | undefined): boolean {
  return hints?.readOnlyHint !== true && hints?.destructiveHint !== false;
}

export function isOpenWorld(hints: ToolHints | undefined): boolean {
  return hints?.openWorldHint !== false;
}

function stricter(a: Decision | undefined, b: Decision): Decision {
  return a && STRICTNESS[a.action] >= STRICTNESS[b.action] ? a : b;
}

const ruleName = (label: string, key: string) => (label ? `${label}.${key}` : key);

/** The sections that apply to `server`: top level, matching server tables (exact name first), its entry. */
export function sectionsFor(policy: Policy, server: string): RuleSet[] {
  const names = [server, toPythonIdentifier(server)];
  const tables = policy.servers.filter((table) => names.some((name) => table.glob.matches(name)));
  tables.sort((a, b) => Number(b.exact) - Number(a.exact));
  const entry = policy.entries.get(server);
  return [policy.global, ...tables.map((table) => table.set), ...(entry ? [entry] : [])];
}

/**
 * Decides one tool. Every matching rule counts and the strictest wins (deny over ask over allow), so
 * no allow can undo a deny; when none matches, the default of the most specific section that sets
 * one applies (an exact server table, a glob one, the top level; `allow` when none does), and a
 * config entry's default applies only where it is stricter.
 */
export function decide(policy: Policy, server: string, tool: string, hints: ToolHints | undefined): Decision {
  let explicit: Decision | undefined;
  const sections = sectionsFor(policy, server);
  const entry = policy.entries.get(server);
  // A rule may name a tool as the server has it (`get-sum`) or as Python code calls it (`get_sum`):
  // a user reading the stubs writes the second, and a deny that silently never applied would be worse.
  const python = { server: toPythonIdentifier(server), tool: toPythonIdentifier(tool) };
  for (const set of sections) {
    const names =
      set === policy.global ? [`${server}.${tool}`, `${python.server}.${python.tool}`] : [tool, python.tool];
    for (const { action, glob, rule } of set.rules) {
      if (names.some((name) => glob.matches(name)))
        explicit = stricter(explicit, { action, rule, reason: `matches ${glob.source}` });
    }
    if (set.readOnly && hints?.readOnlyHint !== true) {
      explicit = stricter(explicit, {
        action: 'deny',
        rule: ruleName(set.label, 'read_only'),
        reason: 'read-only mode, and the tool is not annotated readOnlyHint: true',
      });
    }
    if (set.destructive && isDestructive(hints)) {
      explicit = stricter(explicit, {
        action: set.destructive,
        rule: ruleName(set.label, 'destructive'),
        reason: 'the tool may be destructive (its annotations do not say otherwise)',
      });
    }
    if (set.openWorld && isOpenWorld(hints)) {
      explicit = stricter(explicit, {
        action: set.openWorld,
        rule: ruleName(set.label, 'open_world'),
        reason: 'the tool may reach the open world (its annotations do not say otherwise)',
      });
    }
  }
  if (explicit) return explicit;
  const fileSection = sections.find((set) => set !== entry && set !== policy.global && set.default);
  const from = fileSection ?? (policy.global.default ? policy.global : undefined);
  let fallback: Decision = from
    ? {
        action: from.default as PolicyAction,
        rule: ruleName(from.label, 'default'),
        reason: 'no rule matches',
      }
    : { action: 'allow', rule: 'default', reason: 'no rule matches' };
  if (entry?.default) {
    fallback = stricter(fallback, {
      action: entry.default,
      rule: ruleName(entry.label, 'default'),
      reason: 'no rule matches',
    });
  }
  return fallback;
}

/** Per-server limits: the strictest of every section that applies. */
export interface ServerLimits {
  callsPerTool?: { limit: number; rule: string };
  toolCalls?: { limit: number; rule: string };
  rateLimit?: RateLimit;
}

export function limitsFor(policy: Policy, server: string): ServerLimits {
  const limits: ServerLimits = {};
  if (policy.budget.callsPerTool !== undefined) {
    limits.callsPerTool = { limit: policy.budget.callsPerTool, rule: 'budget.calls_per_tool' };
  }
  for (const set of sectionsFor(policy, server)) {
    if (set === policy.global) continue;
    if (set.callsPerTool !== undefined && set.callsPerTool < (limits.callsPerTool?.limit ?? Infinity)) {
      limits.callsPerTool = { limit: set.callsPerTool, rule: ruleName(set.label, 'calls_per_tool') };
    }
    if (set.toolCalls !== undefined && set.toolCalls < (limits.toolCalls?.limit ?? Infinity)) {
      limits.toolCalls = { limit: set.toolCalls, rule: ruleName(set.label, 'tool_calls') };
    }
    if (set.rateLimit) {
      const current = limits.rateLimit;
      if (!current || set.rateLimit.calls / set.rateLimit.perMs < current.calls / current.perMs) {
        limits.rateLimit = set.rateLimit;
      }
    }
  }
  return limits;
}
