/**
 * The engine's one port onto upstream servers, over the pool: what runs are granted, the calls they
 * make, and the ranked search across every server. Failures are the pool's `BridgeError`s, named by
 * server and tool; the engine turns them into what a program sees in one place (`Engine.#hostFor`).
 */
import type { ToolCallRequest } from '../sandbox/types.js';
import { errorMessage } from '../shared/errors.js';
import { buildSearchIndex, type SearchHit, type SearchIndex, searchTools } from '../upstream/search.js';
import type { ServerDescription, UpstreamPool } from '../upstream/upstream-pool.js';
import type { PolicyGate } from './policy/policy-gate.js';
import type { UpstreamPort } from './types.js';

/** Servers that could not be described, with why; searches skip them and say so. */
export interface Unavailable {
  server: string;
  error: string;
}

/** How long a search waits for servers that are still connecting before it answers without them. */
export const SEARCH_CONNECT_WAIT_MS = 5_000;

/**
 * `gate`: the policy and audit log every call passes through, and the policy shown on every described
 * tool. Without one (no policy, no audit log) calls go straight to the pool, as they always did.
 */
export function upstreamPort(pool: UpstreamPool, gate?: PolicyGate): UpstreamPort {
  const shown = (description: ServerDescription): ServerDescription =>
    gate ? (gate.describe(description) as ServerDescription) : description;
  // The index is rebuilt only when a description changed (a new session, a reconnect) or the extra
  // entries did (callers pass the same array while nothing changed).
  let cached:
    | { described: ServerDescription[]; extra: readonly ServerDescription[]; index: SearchIndex }
    | undefined;
  const indexFor = (described: ServerDescription[], extra: readonly ServerDescription[]): SearchIndex => {
    const same =
      cached?.extra === extra &&
      cached.described.length === described.length &&
      cached.described.every((description, i) => description === described[i]);
    if (!same || !cached) cached = { described, extra, index: buildSearchIndex([...described, ...extra]) };
    return cached.index;
  };

  const describeAll = async (signal: AbortSignal) => {
    const names = pool.serverNames();
    // A search waits a bounded time for servers still starting: one stuck in its handshake must not
    // hold every search for its whole connect timeout. Its connection goes on; later searches see it.
    const patience = AbortSignal.timeout(SEARCH_CONNECT_WAIT_MS);
    const waiting = AbortSignal.any([signal, patience]);
    const settled = await Promise.allSettled(names.map((name) => pool.describe(name, waiting)));
    if (signal.aborted) throw signal.reason;
    const described: ServerDescription[] = [];
    const unavailable: Unavailable[] = [];
    settled.forEach((outcome, index) => {
      if (outcome.status === 'fulfilled') described.push(shown(outcome.value));
      else {
        const error =
          outcome.reason === patience.reason
            ? `still starting after ${SEARCH_CONNECT_WAIT_MS / 1000} s; search again in a moment to include it`
            : errorMessage(outcome.reason);
        unavailable.push({ server: names[index] ?? '?', error });
      }
    });
    return { described, unavailable };
  };

  const direct = (request: ToolCallRequest, signal: AbortSignal) =>
    pool.callTool(request.server, request.tool, request.args, signal, { raw: request.raw === true });

  return {
    catalog: () => pool.catalog(),
    async describe(names, signal) {
      const requested = [...new Set(names)];
      pool.assertKnown(requested);
      return Promise.all(requested.map(async (name) => shown(await pool.describe(name, signal))));
    },
    callTool: gate
      ? (request, signal, context) => gate.call(request, signal, context, direct)
      : (request, signal) => direct(request, signal),
    async search(query, limit, signal, extra = []) {
      const { described, unavailable } = await describeAll(signal);
      const hits: SearchHit[] = searchTools(indexFor(described, extra), query, limit);
      return { hits, described, unavailable };
    },
  };
}
