/**
 * Where the policy meets each tool call, on the host (the engine's upstream port calls through here):
 * decide (deny / ask / allow), spend the run's budgets and the server's rate limit, ask the user,
 * restore placeholders in the arguments, call, measure, tokenize the result, and write the audit
 * line. Refusals are `BridgeError`s with `POLICY_*` codes, whose message ends with `[rule: …]`:
 * the sandbox's runtime raises them as `mcp.PolicyError` with that rule.
 *
 * Decisions are made once per described tool (annotations come with the description) and looked up
 * per call; per-run state (budgets, approvals given for the rest of a run, the token vault) is kept
 * against the run's context object and goes away with it.
 */

import type { ServerGrant, ToolCallRequest } from '../../sandbox/types.js';
import { abortable } from '../../shared/abort.js';
import { BridgeError, type BridgeErrorCode, errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { Redactor } from '../../upstream/redact.js';
import { type ServerDescription, toolAnnotations } from '../../upstream/upstream-pool.js';
import type { CallContext } from '../types.js';
import { type ApprovalOutcome, type AuditLog, type AuditRecord, digest } from './audit-log.js';
import { type Decision, decide, limitsFor, type Policy, type ServerLimits } from './policy.js';
import { TokenizeDepthError, TokenizeLimitError, type TokenVault } from './tokenizer.js';

/** How much of the arguments an approval prompt shows. */
const MAX_PROMPT_ARGUMENT_CHARS = 2000;
/** Argument keys whose values a prompt never shows. */
const SECRET_KEY = /pass(word|phrase)?|secret|token|api[_-]?key|auth|credential|private[_-]?key/i;

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
  /** The server's secret scrubber (upstream pool). */
  redactorFor(server: string): Redactor;
  logger: Logger;
}

type Next = (request: ToolCallRequest, signal: AbortSignal) => Promise<unknown>;

interface RunState {
  calls: number;
  bytes: number;
  /** Calls per server, and per tool of each (nested maps: no key string built per call). */
  perServer: Map<string, { calls: number; tools: Map<string, number> }>;
  /** Tools the user allowed for the rest of the run (`server\0tool`). */
  approved: Set<string>;
  /** Prompts of one run are asked one at a time: a loop of 20 writes asks once, then remembers. */
  asking: Promise<void>;
  vault: TokenVault | undefined;
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
  /** Call times within the window of each rate-limited server, oldest first (from `head`). */
  readonly #recent = new Map<string, { times: number[]; head: number }>();

  constructor(options: PolicyGateOptions) {
    this.#options = options;
    this.#policy = options.policy;
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

  call(request: ToolCallRequest, signal: AbortSignal, context: CallContext | undefined, next: Next) {
    const policy = this.#policy;
    // The common case needs nothing after the call (no audit line, no byte budget, no tokenizing)
    // and no wait before it (not an ask): decide, spend and hand the upstream's promise back as it is.
    if (policy && !this.#options.audit && policy.budget.resultBytes === undefined && !policy.tokenize) {
      const { server, tool } = request;
      const decision = this.#decisionFor(server, tool);
      if (decision.action !== 'ask') {
        try {
          if (decision.action === 'deny') throw this.#denied(server, tool, decision);
          const state = this.#stateOf(context);
          const limits = this.#limitsFor(server);
          this.#checkBudget(state, server, tool, limits);
          if (limits.rateLimit) this.#checkRate(server, limits.rateLimit);
          if (state) this.#count(state, server, tool);
        } catch (error) {
          return Promise.reject(error);
        }
        return next(request, signal);
      }
    }
    return this.#call(request, signal, context, next);
  }

  async #call(request: ToolCallRequest, signal: AbortSignal, context: CallContext | undefined, next: Next) {
    const startedAt = performance.now();
    const startedAtMs = Date.now();
    const { server, tool } = request;
    const state = this.#stateOf(context);
    const decision = this.#policy ? this.#decisionFor(server, tool) : undefined;
    let approval: ApprovalOutcome | undefined;
    let bytes: number | undefined;
    let tokenized: number | undefined;
    const audit = (outcome: AuditRecord['outcome'], error?: unknown) => {
      if (!this.#options.audit) return;
      const record: AuditRecord = {
        time: new Date(startedAtMs).toISOString(),
        pid: process.pid,
        run: context?.runId ?? '',
        ...(context?.session !== undefined ? { session: context.session } : {}),
        server,
        tool,
        ...(decision ? { action: decision.action, rule: decision.rule } : {}),
        ...(approval ? { approval } : {}),
        outcome,
        args: digest(request.args),
        ms: Math.round(performance.now() - startedAt),
      };
      if (error instanceof Refusal) {
        record.rule = error.rule;
        record.reason = error.message;
        if (error.approval) record.approval = error.approval;
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
        if (error !== undefined && !(error instanceof Refusal)) record.reason = errorMessage(error);
      }
      if (bytes !== undefined) record.bytes = bytes;
      if (tokenized) record.tokenized = tokenized;
      try {
        this.#options.audit.write(record);
      } catch (writeError) {
        this.#options.logger.error('could not write the audit log', { error: writeError });
      }
    };

    try {
      if (decision?.action === 'deny') throw this.#denied(server, tool, decision);
      const limits = this.#policy ? this.#limitsFor(server) : undefined;
      if (limits) this.#checkBudget(state, server, tool, limits);
      if (decision?.action === 'ask') {
        approval = await this.#approve(state, context, request, decision, signal);
        // Time passed, and calls running beside this one may have spent what was left.
        if (limits) this.#checkBudget(state, server, tool, limits);
      }
      if (limits?.rateLimit) this.#checkRate(server, limits.rateLimit);
      if (state) this.#count(state, server, tool);

      const tokenize = this.#policy?.tokenize;
      const vault = state?.vault;
      const restore = vault && tokenize?.restoreTo.some((glob) => glob.matches(server));
      const sent = restore
        ? { ...request, args: vault.restore(request.args) as Record<string, unknown> }
        : request;
      let result: unknown;
      try {
        result = await next(sent, signal);
      } catch (error) {
        throw this.#tokenizeError(error, server, vault);
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
      if (vault && tokenize?.from.some((glob) => glob.matches(server))) {
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
      audit(signal.aborted ? 'aborted' : error instanceof Refusal ? 'refused' : 'error', error);
      throw error;
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
    if (!context || !this.#policy) return undefined;
    let state = this.#runs.get(context);
    if (!state) {
      state = {
        calls: 0,
        bytes: 0,
        perServer: new Map(),
        approved: new Set(),
        asking: Promise.resolve(),
        vault: this.#policy.tokenize?.tokenizer.vault(),
      };
      this.#runs.set(context, state);
    }
    return state;
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
    if (!state) return;
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

  #checkRate(server: string, limit: NonNullable<ServerLimits['rateLimit']>): void {
    const now = performance.now();
    let window = this.#recent.get(server);
    if (!window) {
      window = { times: [], head: 0 };
      this.#recent.set(server, window);
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
              arguments: this.#displayArguments(server, request.args),
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

  /** The arguments for a prompt: secret-looking fields hidden, the server's secrets redacted, cut short. */
  #displayArguments(server: string, args: Record<string, unknown>): string {
    const shown = JSON.stringify(
      args,
      (key, value) =>
        key !== '' && SECRET_KEY.test(key) && typeof value !== 'object' ? '[redacted]' : value,
      2,
    );
    const redacted = this.#options.redactorFor(server)(shown);
    return redacted.length > MAX_PROMPT_ARGUMENT_CHARS
      ? `${redacted.slice(0, MAX_PROMPT_ARGUMENT_CHARS)}… (${redacted.length - MAX_PROMPT_ARGUMENT_CHARS} more characters)`
      : redacted;
  }

  /** A tool's error message can carry the same sensitive values as its results. */
  #tokenizeError(error: unknown, server: string, vault: TokenVault | undefined): unknown {
    const tokenize = this.#policy?.tokenize;
    if (!vault || !tokenize?.from.some((glob) => glob.matches(server)) || !(error instanceof BridgeError)) {
      return error;
    }
    const message = vault.tokenizeText(error.message);
    return message === error.message
      ? error
      : new BridgeError(error.code, message, { cause: error, details: { ...error.details } });
  }
}
