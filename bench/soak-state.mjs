// What the soak (bench/soak.mjs) knows the bridge holds for it, so every outcome that depends on an
// earlier run can be checked exactly: the saved values and skills its runs left, and the approval
// prompts its client was sent. Runs that touch the same value or skill take turns (`KeyedTurns`), so
// each one's expected outcome follows from the ones before it.
import { createHash } from 'node:crypto';

/** The token pattern every run's output is searched for (bench/soak.mjs). */
export const TOKEN_PATTERN = /tk\d{5}[0-9a-f]{6}/g;

/**
 * A run's token turned into a mark that a later run may print without carrying the token: values and
 * skills hold the mark of the run that saved them, and a run that shows another's token is "mixed".
 */
export const markOf = (token, prefix) => `${prefix}${token.slice(2)}`;

/** The bytes a saved value's `blob` holds: its saver's mark, repeated to `size` (as the program builds it). */
export function blobDigest(mark, size) {
  const blob = Buffer.from(mark.repeat(Math.floor(size / mark.length) + 1), 'ascii').subarray(0, size);
  return createHash('sha256').update(blob).digest('hex').slice(0, 16);
}

/** One turn at a time per key, in the order asked for; different keys run side by side. */
export class KeyedTurns {
  #tails = new Map();

  async run(key, work) {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release;
    const tail = new Promise((resolve) => {
      release = resolve;
    });
    this.#tails.set(key, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}

/**
 * Runs share the bridge; an exclusive run has it alone (it waits for the runs in flight and holds the
 * next ones back): a Monty worker killed from outside is found as the one worker still busy.
 */
export class ExclusiveGate {
  #shared = 0;
  #exclusive;
  #drained;

  async enter(exclusive) {
    while (this.#exclusive) await this.#exclusive;
    if (!exclusive) {
      this.#shared++;
      return () => {
        this.#shared--;
        if (this.#shared === 0) this.#drained?.();
      };
    }
    let release;
    this.#exclusive = new Promise((resolve) => {
      release = resolve;
    });
    while (this.#shared > 0) await new Promise((resolve) => (this.#drained = resolve));
    this.#drained = undefined;
    return () => {
      this.#exclusive = undefined;
      release();
    };
  }
}

/** Saved values by name: what the last complete save of each left (`undefined`: nothing saved). */
export class SavedValues {
  #slots = new Map();

  get(name) {
    return this.#slots.get(name);
  }

  saved(name, value) {
    this.#slots.set(name, value);
  }

  deleted(name) {
    this.#slots.delete(name);
  }

  /** `[name, bytes]` of every saved value, by name: what `list_saved()` must show. */
  listing() {
    return [...this.#slots].map(([name, { bytes }]) => [name, bytes]).sort(([a], [b]) => a.localeCompare(b));
  }

  clear() {
    this.#slots.clear();
  }
}

/** Saved skills by name: the newest version's mark and number, and how many versions are kept. */
export class SavedSkills {
  /** Versions the store keeps per skill (docs/guide.md, skills). */
  static KEPT = 10;
  #skills = new Map();

  get(name) {
    return this.#skills.get(name);
  }

  saved(name, mark) {
    const before = this.#skills.get(name);
    const version = (before?.version ?? 0) + 1;
    this.#skills.set(name, { mark, version });
    return version;
  }

  /** The versions a deletion of `name` must report: the last KEPT. */
  versionsOf(name) {
    const skill = this.#skills.get(name);
    if (!skill) return [];
    const first = Math.max(1, skill.version - SavedSkills.KEPT + 1);
    return Array.from({ length: skill.version - first + 1 }, (_, i) => first + i);
  }

  deleted(name) {
    this.#skills.delete(name);
  }

  /** `[name, version]` of every skill, by name: what `list_skills()` must show. */
  listing() {
    return [...this.#skills]
      .map(([name, { version }]) => [name, version])
      .sort(([a], [b]) => a.localeCompare(b));
  }
}

/**
 * Answers the bridge's approval prompts (`elicitation/create`) as each approval run asked, found by the
 * run's token in the prompt's arguments. A `hold` answer is never given: the prompt stays open until
 * the bridge withdraws it. Withdrawals are seen on the wire (`notifications/cancelled`, `withdrawn`):
 * the SDK's client drops a cancellation of request id 0, the id of the bridge's first prompt
 * (modelcontextprotocol/typescript-sdk#2283). Prompts for no approval run are kept as strays.
 */
export class ApprovalDesk {
  #expected = new Map();
  /** Prompts not answered, by request id: their entry. */
  #open = new Map();
  /** Prompts that named no approval run in progress (each a finding). */
  strays = [];

  /** Prompts waiting for an answer now (neither answered nor withdrawn). */
  get open() {
    return this.#open.size;
  }

  /** Answers the prompts of the run with `token` with `answer`; `onPrompt` is told of each one. */
  expect(token, answer, onPrompt) {
    const entry = { answer, prompts: 0, withdrawn: 0, onPrompt };
    this.#expected.set(token, entry);
    return entry;
  }

  done(token) {
    this.#expected.delete(token);
  }

  /** The bridge cancelled its request `requestId` (seen by the soak's transport). */
  withdrawn(requestId) {
    const entry = this.#open.get(requestId);
    if (!entry) return;
    this.#open.delete(requestId);
    entry.withdrawn++;
  }

  /** The elicitation handler of the soak's client. */
  answer(params, extra) {
    const tokens = [...new Set(String(params.message).match(TOKEN_PATTERN) ?? [])];
    const entry = tokens.length === 1 ? this.#expected.get(tokens[0]) : undefined;
    if (!entry) {
      this.strays.push(String(params.message).slice(0, 300));
      return { action: 'decline' };
    }
    entry.prompts++;
    entry.onPrompt?.();
    switch (entry.answer) {
      case 'hold':
        this.#open.set(extra.requestId, entry);
        // Settled when the SDK sees the cancellation (nothing is sent then); for id 0 it never does.
        return new Promise((resolve) => {
          extra.signal.addEventListener('abort', () => resolve({ action: 'cancel' }), { once: true });
        });
      case 'accept-run':
        return { action: 'accept', content: { remember: true } };
      default:
        return { action: entry.answer };
    }
  }
}
