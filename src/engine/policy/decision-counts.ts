/**
 * The policy's decisions, counted by the deciding rule's action and what became of the call, for
 * metrics: a few fixed labels, whatever tools the programs call. A call is counted once, when it is
 * let through or refused before it is made; a result withheld afterwards (`budget.result_bytes`) is
 * not counted again.
 */
import type { PolicyAction } from './policy.js';

/**
 * Let through as the rule allows (`allow`, or `ask` with nobody to ask and the policy allowing
 * that), approved by the user, refused by a deny rule, declined (the user said no, dismissed the
 * prompt, or could not be asked), or refused for a budget, a rate limit or a stale placeholder.
 */
export type DecisionOutcome =
  | 'allowed'
  | 'approved'
  | 'denied'
  | 'declined'
  | 'budget'
  | 'rate_limited'
  | 'placeholder';

export interface DecisionCount {
  action: PolicyAction;
  outcome: DecisionOutcome;
  count: number;
}

/** The outcome of a refusal, by its error code. */
const REFUSALS: Readonly<Record<string, DecisionOutcome>> = {
  POLICY_DENIED: 'denied',
  POLICY_DECLINED: 'declined',
  POLICY_BUDGET: 'budget',
  POLICY_RATE_LIMIT: 'rate_limited',
  POLICY_PLACEHOLDER: 'placeholder',
};

export class DecisionCounts {
  // Nested by action: no key string is built per call.
  readonly #counts = new Map<PolicyAction, Map<DecisionOutcome, number>>();

  count(action: PolicyAction, outcome: DecisionOutcome): void {
    let byOutcome = this.#counts.get(action);
    if (!byOutcome) {
      byOutcome = new Map();
      this.#counts.set(action, byOutcome);
    }
    byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
  }

  /** Counts a refusal by its `POLICY_*` code; other codes are not the policy's and are not counted. */
  countRefusal(action: PolicyAction, code: string): void {
    const outcome = REFUSALS[code];
    if (outcome) this.count(action, outcome);
  }

  /** Every pair counted at least once. */
  snapshot(): DecisionCount[] {
    return [...this.#counts].flatMap(([action, byOutcome]) =>
      [...byOutcome].map(([outcome, count]) => ({ action, outcome, count })),
    );
  }
}
