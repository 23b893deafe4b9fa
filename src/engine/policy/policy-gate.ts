/**
 * Where the policy meets each tool call, on the host (the engine's upstream port calls through here):
 * decide (deny / ask / allow), spend the run's budgets and the server's rate limit, ask the user,
 * restore placeholders in the arguments, call, measure, tokenize the result, and write the audit
 * line. Refusals are `BridgeError`s with `POLICY_*` codes, whose message ends with `[rule: …]`:
 * the sandbox's runtime raises them as `mcp.PolicyError` with that rule.
 *
 * Decisions are made once per described tool (annotations come with the description) and looked up
 * per call; per-run state (budgets, approvals given for the rest of a run, audit lines) is kept
 * against the run's context object and goes away with it. The token vault is the run's, or, in a
 * named session, the session's for as long as it lives (keyed by `CallContext.sessionScope`).
 *
 * Refusals cost: each counts as a call against `budget.tool_calls`, and past `budget.refused_calls`
 * every further call of the run is refused, each answer held back {@link REFUSED_CALL_DELAY_MS}, so a
 * loop of refused calls can neither run up the bridge's CPU nor write the audit log without bound.
 * A run writes at most `auditRunLines` audit lines (and one file's worth of bytes); the calls after
 * are counted and written as one summary line once the run has ended and its last call settled.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import type { ServerGrant, ToolCallRequest } from '../../sandbox/types.js';
import { abortable } from '../../shared/abort.js';
import { BridgeError, type BridgeErrorCode, errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { Redactor } from '../../upstream/redact.js';
import { type ServerDescription, toolAnnotations } from '../../upstream/upstream-pool.js';
import type { CallContext } from '../types.js';
import { promptArguments } from './approval-text.js';
import {
  type ApprovalOutcome,
  type AuditLog,
  type AuditOutcome,
  type AuditRecord,
  type AuditSummary,
  DEFAULT_AUDIT_RUN_LINES,
  digest,
} from './audit-log.js';
import { type DecisionCount, DecisionCounts } from './decision-counts.js';
import { type Decision, decide, limitsFor, type Policy, restoresTo, type ServerLimits } from './policy.js';
import { PlaceholderError, TokenizeDepthError, TokenizeLimitError, type TokenVault } from './tokenizer.js';

/** Refused calls a run may make when the policy sets no `budget.refused_calls`. */
export const DEFAULT_REFUSED_CALLS = 100;
/** How long each call of a run past its refused calls waits for its refusal: a loop of them idles. */
export const REFUSED_CALL_DELAY_MS = 100;
/** Distinct server.tool names a run's summary line counts by name; the rest are counted together. */
const MAX_SUMMARY_NAMES = 100;

/** What a program sees of a tool's policy (`policy` in tool docs). */
export interface ToolPolicy {
  action: Decision['action'];
  rule: string;
  reason: string;
}

export interface PolicyGateOptions {
  /** Undefined: no rules, only the audit log. */
  policy?: Policy;
  audit?: AuditLog;
  /** Write argument values (redacted) into the audit log. Default false. */
  auditValues?: boolean;
  /**
   * Audit lines one run may write; past it (or past the log's file size), its calls are counted and
   * summarised in one line when it ends. Default {@link DEFAULT_AUDIT_RUN_LINES}.
   */
  auditRunLines?: number;
  /** The server's secret scrubber (upstream pool). */
  redactorFor(server: string): Redactor;
  logger: Logger;
}

type Next = (request: ToolCallRequest, signal: AbortSignal) => Promise<unknown>;

/** One call on its way through the gate: what the checks before it decided, for the call and its audit line. */
interface GatedCall {
  readonly request: ToolCallRequest;
  readonly state: RunState | undefined;
  /** The policy's decision for the tool; none without a policy, or for a call the port refused. */
  readonly decision: Decision | undefined;
  /** The request as sent: with placeholders restored for a `restore_to` tool. */
  sent: ToolCallRequest;
  /** Real values put back into the arguments. */
  restored: number;
  approval: ApprovalOutcome | undefined;
  /** Counted as made: a refusal after that (the byte budget) does not count it again. */
  counted: boolean;
  /** The port's refusal, once thrown (audited with its own reason). */
  portRefusal: BridgeError | undefined;
}

interface RunState {
  /** Calls made and calls refused: what `budget.tool_calls` counts. */
  calls: number;
  refused: number;
  bytes: number;
  /** Calls per server, and per tool of each (nested maps: no key string built per call). */
  perServer: Map<string, { calls: number; tools: Map<string, number> }>;
  /** Tools the user allowed for the rest of the run (`server\0tool`). */
  approved: Set<string>;
  /** Prompts of one run are asked one at a time: a loop of 20 writes asks once, then remembers. */
  asking: Promise<void>;
  vault: TokenVault | undefined;
  /** Audit lines written, their bytes, and what came after the cap. */
  lines: number;
  lineBytes: number;
  overflow: Overflow | undefined;
  /** Calls not yet settled; the summary waits for the last one after the run ended. */
  inFlight: number;
  ended: boolean;
  context: CallContext;
}

/** A run's calls past its audit cap, counted for its summary line. */
interface Overflow {
  cap: string;
  calls: number;
  outcomes: Map<AuditOutcome, number>;
  tools: Map<string, Map<string, number>>;
  names: number;
  others: number;
  written: boolean;
}

class Refusal extends BridgeError {
  constructor(
    code: BridgeErrorCode,
    message: string,
    readonly rule: string,
    readonly approval?: ApprovalOutcome,
  ) {
    super(code, `${message} [rule: ${rule}]`, { details: { rule } });
  }
}

export class PolicyGate {
  readonly #options: PolicyGateOptions;
  readonly #policy: Policy | undefined;
  readonly #decisions = new Map<string, ReadonlyMap<string, Decision>>();
  readonly #limits = new Map<string, ServerLimits>();
  readonly #grants = new WeakMap<ServerDescription, ServerGrant>();
  readonly #runs = new WeakMap<CallContext, RunState>();
  /** The token vault of each named session's current life (`CallContext.sessionScope`). */
  readonly #sessionVaults = new WeakMap<object, TokenVault>();
  readonly #refusedCalls: number;
  readonly #auditRunLines: number;
  /** Nothing happens after a call (no audit log, no byte budget, no tokenizing): the short path. */
  readonly #direct: boolean;
  /**
   * Call times within the window of each rate-limited server, per principal (each has its own
   * budget, so one cannot spend another's), oldest first (from `head`).
   */
  readonly #recent = new Map<string, { times: number[]; head: number }>();
  readonly #decided = new DecisionCounts();

  constructor(options: PolicyGateOptions) {
    this.#options = options;
    this.#policy = options.policy;
    this.#refusedCalls = options.policy?.budget.refusedCalls ?? DEFAULT_REFUSED_CALLS;
    this.#auditRunLines = options.auditRunLines ?? DEFAULT_AUDIT_RUN_LINES;
    this.#direct =
      !options.audit && options.policy?.budget.resultBytes === undefined && !options.policy?.tokenize;
  }

  /** The policy's decisions so far, by action and outcome (for metrics). */
  decisionCounts(): DecisionCount[] {
    return this.#decided.snapshot();
  }

  /**
   * The policy's decision for one tool, as programs see it in the tool's docs; undefined without a
   * policy. A tool of a server not described yet is decided without its annotations.
   */
  toolPolicy(server: string, tool: string): ToolPolicy | undefined {
    if (!this.#policy) return undefined;
    const { action, rule, reason } = this.#decisionFor(server, tool);
    return { action, rule, reason };
  }

  /** The decision for each tool of the servers described so far, by server then tool (the console's policy column). */
  describedPolicies(): Map<string, Map<string, ToolPolicy>> {
    const all = new Map<string, Map<string, ToolPolicy>>();
    for (const [server, decisions] of this.#decisions) {
      const tools = new Map<string, ToolPolicy>();
      for (const [tool, { action, rule, reason }] of decisions) tools.set(tool, { action, rule, reason });
      all.set(server, tools);
    }
    return all;
  }

  /** A description as programs see it: each tool with its policy (the same object while it is unchanged). */
  describe(description: ServerDescription): ServerGrant {
    const policy = this.#policy;
    if (!policy) return description;
    const known = this.#grants.get(description);
    if (known) return known;
    const hints = toolAnnotations(description);
    const decisions = new Map<string, Decision>();
    const grant: ServerGrant = {
      ...description,
      tools: description.tools.map((tool) => {
        const decision = decide(policy, description.name, tool.name, hints.get(tool.name));
        decisions.set(tool.name, decision);
        const shown: ToolPolicy = { action: decision.action, rule: decision.rule, reason: decision.reason };
        return { ...tool, policy: shown };
      }),
    };
    this.#decisions.set(description.name, decisions);
    this.#grants.set(description, grant);
    return grant;
  }

  call(
    request: ToolCallRequest,
    signal: AbortSignal,
    context: CallContext | undefined,
    next: Next,
  ): Promise<unknown> {
    const call = this.#open(request, context, true);
    if (!this.#direct) return this.#call(call, signal, context, next);
    // Nothing to do after the call (no audit line, no byte budget, no tokenizing): once admitted, the
    // upstream's promise is handed back as it is. Only an ask or a run past its refused calls waits.
    let admitted: Promise<void> | undefined;
    try {
      admitted = this.#admit(call, signal, context);
    } catch (error) {
      this.#countIfRefused(call, error);
      return Promise.reject(error);
    }
    return admitted ? this.#callOnceAdmitted(admitted, call, signal, next) : next(call.sent, signal);
  }

  /**
   * A call the port refused before the policy could decide (a tool the server never listed): it is
   * audited and counted against the run like the policy's own refusals, then `refusal()` is thrown
   * (built only then: a run past its refused calls gets that refusal instead, without the cost).
   */
  refuse(
    request: ToolCallRequest,
    signal: AbortSignal,
    context: CallContext | undefined,
    refusal: () => BridgeError,
  ): Promise<never> {
    return this.#call(
      this.#open(request, context, false),
      signal,
      context,
      () => Promise.reject(new Error('not called')),
      refusal,
    ) as Promise<never>;
  }

  /**
   * The run of `context` has ended: its summary line (if it reached its audit cap) is written now, or
   * once its last call still in flight settles.
   */
  runEnded(context: CallContext): void {
    const state = this.#runs.get(context);
    if (!state) return;
    state.ended = true;
    if (state.inFlight === 0) this.#writeSummary(state);
  }

  #open(request: ToolCallRequest, context: CallContext | undefined, decides: boolean): GatedCall {
    return {
      request,
      state: this.#stateOf(context),
      decision: this.#policy && decides ? this.#decisionFor(request.server, request.tool) : undefined,
      sent: request,
      restored: 0,
      approval: undefined,
      counted: false,
      portRefusal: undefined,
    };
  }

  /**
   * The checks before a call, in order, for both paths: past the run's refused calls (answered after
   * a delay) → the port's refusal → deny → budgets → placeholders restored (`restore_to`) → ask (then
   * budgets again) → rate limit → counted. Throws the refusal; returns a promise only when a step
   * must wait (the delay, the user's answer), else undefined, so the common call awaits nothing here.
   */
  #admit(
    call: GatedCall,
    signal: AbortSignal,
    context: CallContext | undefined,
    refusal?: () => BridgeError,
  ): Promise<void> | undefined {
    const { state, decision } = call;
    const { server, tool } = call.request;
    if (state && state.refused >= this.#refusedCalls) return this.#refuseSlowly(signal);
    if (refusal) {
      call.portRefusal = refusal();
      throw call.portRefusal;
    }
    if (decision?.action === 'deny') throw this.#denied(server, tool, decision);
    const limits = this.#policy ? this.#limitsFor(server) : undefined;
    if (limits) this.#checkBudget(state, server, tool, limits);
    // Placeholders are checked before the user is asked: a stale one is refused, not approved.
    if (state?.vault) this.#restorePlaceholders(call, state.vault);
    if (decision?.action === 'ask') return this.#askThenSpend(call, decision, limits, signal, context);
    this.#spend(call, limits, context);
    return undefined;
  }

  // The steps that wait are methods of their own: a closure in `#admit` would cost every call a
  // context allocation, waiting or not.

  /** Past its refused calls a run is answered slowly: a loop of them costs the bridge nothing. */
  async #refuseSlowly(signal: AbortSignal): Promise<never> {
    await sleep(REFUSED_CALL_DELAY_MS, undefined, { signal });
    throw this.#tooManyRefusals();
  }

  async #askThenSpend(
    call: GatedCall,
    decision: Decision,
    limits: ServerLimits | undefined,
    signal: AbortSignal,
    context: CallContext | undefined,
  ): Promise<void> {
    const { state } = call;
    const { server, tool } = call.request;
    call.approval = await this.#approve(state, context, call.request, decision, signal);
    // Time passed, and calls running beside this one may have spent what was left.
    if (limits) this.#checkBudget(state, server, tool, limits);
    this.#spend(call, limits, context);
  }

  /** The short path's call after a check that waited (an ask, a run past its refused calls). */
  async #callOnceAdmitted(
    admitted: Promise<void>,
    call: GatedCall,
    signal: AbortSignal,
    next: Next,
  ): Promise<unknown> {
    try {
      await admitted;
    } catch (error) {
      this.#countIfRefused(call, error);
      throw error;
    }
    return next(call.sent, signal);
  }

  /** The last checks before the call: the server's rate limit, then the call counts as made. */
  #spend(call: GatedCall, limits: ServerLimits | undefined, context: CallContext | undefined): void {
    const { server, tool } = call.request;
    if (limits?.rateLimit) this.#checkRate(server, limits.rateLimit, context);
    if (call.state) this.#count(call.state, server, tool);
    call.counted = true;
    if (call.decision) {
      const asked = call.approval === 'accepted' || call.approval === 'remembered';
      this.#decided.count(call.decision.action, asked ? 'approved' : 'allowed');
    }
  }

  /** For a `restore_to` tool, the real values of the run's placeholders go into the arguments sent. */
  #restorePlaceholders(call: GatedCall, vault: TokenVault): void {
    const tokenize = this.#policy?.tokenize;
    const { server, tool } = call.request;
    if (!tokenize || !restoresTo(tokenize, server, tool)) return;
    try {
      const restoring = vault.restore(call.request.args);
      call.sent = { ...call.request, args: restoring.value as Record<string, unknown> };
      call.restored = restoring.restored;
    } catch (error) {
      if (!(error instanceof PlaceholderError)) throw error;
      throw new Refusal(
        'POLICY_PLACEHOLDER',
        `${server}.${tool} was not called: ${error.message}. Pass a placeholder this run received ` +
          '(get the value again in this run).',
        'tokenize.restore_to',
      );
    }
  }

  /** A refusal (the policy's or the port's) counts against the run; a failure of the call does not. */
  #countIfRefused(call: GatedCall, error: unknown): boolean {
    const refused =
      error instanceof Refusal || (call.portRefusal !== undefined && error === call.portRefusal);
    if (refused && call.state) this.#countRefusal(call.state, call.counted);
    if (call.decision && !call.counted && error instanceof Refusal) {
      this.#decided.countRefusal(call.decision.action, error.code);
    }
    return refused;
  }

  /** The full path: the checks, the call, then what comes after it (byte budget, tokenizing, audit). */
  async #call(
    call: GatedCall,
    signal: AbortSignal,
    context: CallContext | undefined,
    next: Next,
    refusal?: () => BridgeError,
  ): Promise<unknown> {
    const startedAt = performance.now();
    const startedAtMs = Date.now();
    const { request, state, decision } = call;
    const { server, tool } = request;
    let bytes: number | undefined;
    let tokenized: number | undefined;
    const audit = (outcome: AuditRecord['outcome'], error?: unknown) => {
      if (!this.#options.audit) return;
      if (state && this.#overCap(state)) {
        this.#countOverflow(state, server, tool, outcome);
        return;
      }
      const record: AuditRecord = {
        time: new Date(startedAtMs).toISOString(),
        pid: process.pid,
        run: context?.runId ?? '',
        ...(context?.principal ? { principal: context.principal.id } : {}),
        ...(context?.session !== undefined ? { session: context.session } : {}),
        server,
        tool,
        ...(decision ? { action: decision.action, rule: decision.rule } : {}),
        ...(call.approval ? { approval: call.approval } : {}),
        outcome,
        args: digest(request.args),
        ms: Math.round(performance.now() - startedAt),
      };
      const { portRefusal } = call;
      if (error instanceof Refusal) {
        record.rule = error.rule;
        record.reason = error.message;
        if (error.approval) record.approval = error.approval;
      } else if (error !== undefined && error === portRefusal) {
        record.reason = portRefusal.message;
      }
      if (error !== undefined) record.code = error instanceof BridgeError ? error.code : 'HOST_ERROR';
      if (this.#options.auditValues) {
        const redacted = this.#options.redactorFor(server)(JSON.stringify(request.args));
        try {
          record.values = JSON.parse(redacted);
        } catch {
          // A secret that spanned JSON syntax was cut out of it: keep the redacted text as it is.
          record.values = redacted;
        }
        if (error !== undefined && !(error instanceof Refusal) && error !== portRefusal) {
          record.reason = errorMessage(error);
        }
      }
      if (bytes !== undefined) record.bytes = bytes;
      if (tokenized) record.tokenized = tokenized;
      try {
        const written = this.#options.audit.write(record);
        if (state) {
          state.lines++;
          state.lineBytes += written;
        }
      } catch (writeError) {
        this.#options.logger.error('could not write the audit log', { error: writeError });
      }
    };

    if (state) state.inFlight++;
    try {
      // Awaited only when a check waits: an `await` of nothing would still cost the call a turn.
      const admitted = this.#admit(call, signal, context, refusal);
      if (admitted) await admitted;
      // What a tool that received real values returns may carry them: it is tokenized like the
      // results of `from` servers, whatever `from` says.
      const vault = state?.vault;
      const tokenizes =
        vault && (call.restored > 0 || this.#policy?.tokenize?.from.some((glob) => glob.matches(server)));
      let result: unknown;
      try {
        result = await next(call.sent, signal);
      } catch (error) {
        throw tokenizes ? this.#tokenizeError(error, vault) : error;
      }
      const budget = this.#policy?.budget.resultBytes;
      if (this.#options.audit || budget !== undefined) {
        bytes = Buffer.byteLength(JSON.stringify(result) ?? '');
      }
      if (state && budget !== undefined && bytes !== undefined) {
        state.bytes += bytes;
        if (state.bytes > budget) {
          throw new Refusal(
            'POLICY_BUDGET',
            `${server}.${tool} returned ${bytes} bytes, which takes this run past its budget of ${budget} bytes of ` +
              'tool results; the result was withheld and no more calls are allowed in this run.',
            'budget.result_bytes',
          );
        }
      }
      if (tokenizes) {
        const before = vault.size;
        try {
          result = vault.tokenize(result);
        } catch (error) {
          if (error instanceof TokenizeDepthError || error instanceof TokenizeLimitError) {
            throw new BridgeError(
              'TOOL_ERROR',
              `${server}.${tool}: ${error.message}; the result was withheld. Ask the tool for less.`,
            );
          }
          throw error;
        }
        tokenized = vault.size - before;
      }
      audit('ok');
      return result;
    } catch (error) {
      const refused = this.#countIfRefused(call, error);
      audit(signal.aborted ? 'aborted' : refused ? 'refused' : 'error', error);
      throw error;
    } finally {
      if (state && --state.inFlight === 0 && state.ended) this.#writeSummary(state);
    }
  }

  /** A refusal costs a call of the run's budget (unless it was already counted as made) and a refused call. */
  #countRefusal(state: RunState, counted: boolean): void {
    state.refused++;
    if (!counted) state.calls++;
  }

  #tooManyRefusals(): Refusal {
    return new Refusal(
      'POLICY_BUDGET',
      `This run has made ${this.#refusedCalls} refused tool calls, its limit; no more tool calls are allowed ` +
        'in this run. Change what the program does instead of retrying.',
      'budget.refused_calls',
    );
  }

  #overCap(state: RunState): boolean {
    if (state.overflow) return true;
    const audit = this.#options.audit as AuditLog;
    let cap: string | undefined;
    if (state.lines >= this.#auditRunLines) cap = `MCP_BRIDGE_AUDIT_RUN_LINES=${this.#auditRunLines}`;
    else if (state.lineBytes >= audit.maxBytes)
      cap = `MCP_BRIDGE_AUDIT_MAX_SIZE=${audit.maxBytes} bytes per run`;
    if (cap === undefined) return false;
    state.overflow = {
      cap,
      calls: 0,
      outcomes: new Map(),
      tools: new Map(),
      names: 0,
      others: 0,
      written: false,
    };
    return true;
  }

  #countOverflow(state: RunState, server: string, tool: string, outcome: AuditOutcome): void {
    const overflow = state.overflow as Overflow;
    overflow.calls++;
    overflow.outcomes.set(outcome, (overflow.outcomes.get(outcome) ?? 0) + 1);
    let tools = overflow.tools.get(server);
    const known = tools?.get(tool);
    if (known !== undefined) {
      tools?.set(tool, known + 1);
      return;
    }
    // Names are the program's choice (a refused name): only so many are kept.
    if (overflow.names >= MAX_SUMMARY_NAMES) {
      overflow.others++;
      return;
    }
    if (!tools) {
      tools = new Map();
      overflow.tools.set(server, tools);
    }
    tools.set(tool, 1);
    overflow.names++;
  }

  #writeSummary(state: RunState): void {
    const overflow = state.overflow;
    const audit = this.#options.audit;
    if (!overflow || overflow.written || !audit) return;
    overflow.written = true;
    const { context } = state;
    const summary: AuditSummary = {
      time: new Date().toISOString(),
      pid: process.pid,
      run: context.runId,
      ...(context.principal ? { principal: context.principal.id } : {}),
      ...(context.session !== undefined ? { session: context.session } : {}),
      kind: 'summary',
      cap: overflow.cap,
      calls: overflow.calls,
      outcomes: Object.fromEntries(overflow.outcomes),
      tools: Object.fromEntries(
        [...overflow.tools].map(([server, tools]) => [server, Object.fromEntries(tools)]),
      ),
      ...(overflow.others > 0 ? { others: overflow.others } : {}),
    };
    try {
      audit.write(summary);
    } catch (error) {
      this.#options.logger.error('could not write the audit log', { error });
    }
  }

  #denied(server: string, tool: string, decision: Decision): Refusal {
    return new Refusal(
      'POLICY_DENIED',
      `${server}.${tool} is refused by the policy: ${decision.reason}.`,
      decision.rule,
    );
  }

  #stateOf(context: CallContext | undefined): RunState | undefined {
    if (!context) return undefined;
    let state = this.#runs.get(context);
    if (!state) {
      state = {
        calls: 0,
        refused: 0,
        bytes: 0,
        perServer: new Map(),
        approved: new Set(),
        asking: Promise.resolve(),
        vault: this.#vaultOf(context),
        lines: 0,
        lineBytes: 0,
        overflow: undefined,
        inFlight: 0,
        ended: false,
        context,
      };
      this.#runs.set(context, state);
    }
    return state;
  }

  /** The run's own vault, or its session's: placeholders keep their meaning for the session's life. */
  #vaultOf(context: CallContext): TokenVault | undefined {
    const tokenizer = this.#policy?.tokenize?.tokenizer;
    if (!tokenizer) return undefined;
    const scope = context.sessionScope;
    if (!scope) return tokenizer.vault();
    let vault = this.#sessionVaults.get(scope);
    if (!vault) {
      vault = tokenizer.vault();
      this.#sessionVaults.set(scope, vault);
    }
    return vault;
  }

  #decisionFor(server: string, tool: string): Decision {
    const known = this.#decisions.get(server)?.get(tool);
    // A tool the server has not described (a forged frame, a tool added since): no annotations.
    return known ?? decide(this.#policy as Policy, server, tool, undefined);
  }

  #limitsFor(server: string): ServerLimits {
    let limits = this.#limits.get(server);
    if (!limits) {
      limits = limitsFor(this.#policy as Policy, server);
      this.#limits.set(server, limits);
    }
    return limits;
  }

  #checkBudget(state: RunState | undefined, server: string, tool: string, limits: ServerLimits): void {
    if (!state || !this.#policy) return;
    const budget = (this.#policy as Policy).budget;
    if (budget.toolCalls !== undefined && state.calls >= budget.toolCalls) {
      throw new Refusal(
        'POLICY_BUDGET',
        `This run has made its ${budget.toolCalls} tool calls; no more are allowed in this run.`,
        'budget.tool_calls',
      );
    }
    if (budget.resultBytes !== undefined && state.bytes > budget.resultBytes) {
      throw new Refusal(
        'POLICY_BUDGET',
        `This run has received its budget of ${budget.resultBytes} bytes of tool results; no more calls are allowed in this run.`,
        'budget.result_bytes',
      );
    }
    const counts = state.perServer.get(server);
    if (limits.toolCalls && (counts?.calls ?? 0) >= limits.toolCalls.limit) {
      throw new Refusal(
        'POLICY_BUDGET',
        `This run has made its ${limits.toolCalls.limit} calls to ${server}; no more are allowed in this run.`,
        limits.toolCalls.rule,
      );
    }
    if (limits.callsPerTool && (counts?.tools.get(tool) ?? 0) >= limits.callsPerTool.limit) {
      throw new Refusal(
        'POLICY_BUDGET',
        `This run has called ${server}.${tool} ${limits.callsPerTool.limit} times, its limit per run.`,
        limits.callsPerTool.rule,
      );
    }
  }

  #count(state: RunState, server: string, tool: string): void {
    state.calls++;
    let counts = state.perServer.get(server);
    if (!counts) {
      counts = { calls: 0, tools: new Map() };
      state.perServer.set(server, counts);
    }
    counts.calls++;
    counts.tools.set(tool, (counts.tools.get(tool) ?? 0) + 1);
  }

  #checkRate(
    server: string,
    limit: NonNullable<ServerLimits['rateLimit']>,
    context: CallContext | undefined,
  ): void {
    const now = performance.now();
    const key = `${context?.principal?.id ?? ''}\u0000${server}`;
    let window = this.#recent.get(key);
    if (!window) {
      window = { times: [], head: 0 };
      this.#recent.set(key, window);
    }
    // A queue with a moving head: expiring is O(1) per call, compacted once half of it is dead.
    const { times } = window;
    while (window.head < times.length && (times[window.head] as number) <= now - limit.perMs) window.head++;
    if (window.head > 1024 && window.head * 2 > times.length) {
      times.splice(0, window.head);
      window.head = 0;
    }
    if (times.length - window.head >= limit.calls) {
      const waitMs = Math.ceil((times[window.head] as number) + limit.perMs - now);
      throw new Refusal(
        'POLICY_RATE_LIMIT',
        `${server} allows ${limit.calls} calls per ${limit.perMs / 1000} s and that many were made; ` +
          `the next call is allowed in ${(waitMs / 1000).toFixed(1)} s (await asyncio.sleep, then retry).`,
        limit.rule,
      );
    }
    times.push(now);
  }

  async #approve(
    state: RunState | undefined,
    context: CallContext | undefined,
    request: ToolCallRequest,
    decision: Decision,
    signal: AbortSignal,
  ): Promise<ApprovalOutcome> {
    const { server, tool } = request;
    const key = `${server}\0${tool}`;
    const refuse = (outcome: ApprovalOutcome, why: string): never => {
      throw new Refusal(
        'POLICY_DECLINED',
        `${server}.${tool} needs the user's approval, and ${why}.`,
        decision.rule,
        outcome,
      );
    };
    if (state?.approved.has(key)) return 'remembered';
    const shown = promptArguments(request.args, this.#options.redactorFor(server));
    if (!shown.ok) {
      return refuse(
        'unshowable',
        `${shown.why}; nobody was asked and the call was not made. Split it into smaller calls`,
      );
    }
    let release = () => {};
    const previous = state?.asking ?? Promise.resolve();
    if (state) state.asking = new Promise<void>((resolve) => (release = resolve));
    try {
      await abortable(previous, signal);
      if (state?.approved.has(key)) return 'remembered';
      let answer: Awaited<ReturnType<NonNullable<CallContext['approve']>>> = 'unsupported';
      if (context?.approve) {
        try {
          answer = await context.approve(
            {
              runId: context.runId,
              server,
              tool,
              rule: decision.rule,
              reason: decision.reason,
              arguments: shown.text,
            },
            signal,
          );
        } catch (error) {
          if (signal.aborted) throw error;
          return refuse('unanswered', `asking for it failed (${errorMessage(error)}); the call was not made`);
        }
      }
      switch (answer) {
        case 'accept':
          return 'accepted';
        case 'accept-run':
          state?.approved.add(key);
          return 'accepted';
        case 'decline':
          return refuse('declined', 'the user declined it');
        case 'cancel':
          return refuse('cancelled', 'the user dismissed the request; the call was not made');
        case 'unsupported': {
          if ((this.#policy as Policy).withoutElicitation === 'allow') {
            this.#options.logger.warn('allowing a call an ask rule matches: the client cannot be asked', {
              server,
              tool,
              rule: decision.rule,
            });
            return 'unsupported';
          }
          return refuse(
            'unsupported',
            'this MCP client cannot be asked (it does not support elicitation), so the call was refused ' +
              '(approval.without_elicitation = "deny")',
          );
        }
      }
    } finally {
      release();
    }
  }

  /** A tool's error message can carry the same sensitive values as its results. */
  #tokenizeError(error: unknown, vault: TokenVault): unknown {
    if (!(error instanceof BridgeError)) return error;
    const message = vault.tokenizeText(error.message);
    return message === error.message
      ? error
      : new BridgeError(error.code, message, { cause: error, details: { ...error.details } });
  }
}
