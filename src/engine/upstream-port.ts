/**
 * The engine's one port onto upstream servers, over the pool: what runs are granted, the calls they
 * make, and the ranked search across every server. Failures are the pool's `BridgeError`s, named by
 * server and tool; the engine turns them into what a program sees in one place (`Engine.#hostFor`).
 *
 * A call of a tool the server never listed is refused here, before any policy decides it (a deny rule
 * names tools as listed: `DELETE-FILE`, `delete‐file` with U+2010 or a trailing space must not slip
 * past it to a lenient server), with or without a policy; a server that announces a changing tool
 * list is listed again first (at most once a second).
 */
import type { ToolCallRequest } from '../sandbox/types.js';
import { BridgeError, errorMessage } from '../shared/errors.js';
import type { OutgoingCallTrace } from '../shared/trace-context.js';
import { buildSearchIndex, type SearchHit, type SearchIndex, searchTools } from '../upstream/search.js';
import type { ServerDescription, UpstreamPool } from '../upstream/upstream-pool.js';
import { closestNames } from './closest-names.js';
import type { PolicyGate } from './policy/policy-gate.js';
import type { CallContext, UpstreamPort } from './types.js';

/** Servers that could not be described, with why; searches skip them and say so. */
export interface Unavailable {
  server: string;
  error: string;
}

/** How long a search waits for servers that are still connecting before it answers without them. */
export const SEARCH_CONNECT_WAIT_MS = 5_000;
/** Tool names an unknown-tool error lists when none is close to the name asked for. */
const LISTED_NAMES_SHOWN = 10;

const toolNames = new WeakMap<ServerDescription, ReadonlySet<string>>();

function namesOf(description: ServerDescription): ReadonlySet<string> {
  let names = toolNames.get(description);
  if (!names) {
    names = new Set(description.tools.map((tool) => tool.name));
    toolNames.set(description, names);
  }
  return names;
}

/** A name as JSON with every character outside printable ASCII escaped: `"delete\u2010file"`. */
function quoted(name: string): string {
  return JSON.stringify(name).replace(
    /[^\x20-\x7e]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The refusal of a tool `description` does not list, naming the closest listed ones. */
export function unknownToolError(description: ServerDescription, tool: string): BridgeError {
  const listed = description.tools.map((entry) => entry.name);
  const closest = closestNames(tool, listed);
  const hint =
    closest.length > 0
      ? `Did you mean ${closest.map(quoted).join(' or ')}?`
      : listed.length === 0
        ? 'It lists no tools.'
        : `Its tools: ${listed.slice(0, LISTED_NAMES_SHOWN).map(quoted).join(', ')}` +
          `${listed.length > LISTED_NAMES_SHOWN ? `, … (${listed.length} in all)` : ''}.`;
  return new BridgeError(
    'UNKNOWN_TOOL',
    `MCP server '${description.name}' has no tool ${quoted(tool)}; names must match a listed tool exactly, ` +
      `so the call was not made. ${hint}`,
    { details: { server: description.name, tool: tool.slice(0, 256), closest } },
  );
}

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

  const direct = (request: ToolCallRequest, signal: AbortSignal, trace?: OutgoingCallTrace) =>
    pool.callTool(request.server, request.tool, request.args, signal, {
      raw: request.raw === true,
      ...(trace ? { trace } : {}),
    });
  const gated = gate
    ? (request: ToolCallRequest, signal: AbortSignal, context?: CallContext, trace?: OutgoingCallTrace) =>
        gate.call(
          request,
          signal,
          context,
          trace ? (sent, sentSignal) => direct(sent, sentSignal, trace) : direct,
        )
    : (request: ToolCallRequest, signal: AbortSignal, _context?: CallContext, trace?: OutgoingCallTrace) =>
        direct(request, signal, trace);

  /** The slow path: the server's tools not at hand or not naming this one (listed again if they can change). */
  const checkedCall = async (
    request: ToolCallRequest,
    signal: AbortSignal,
    context?: CallContext,
    trace?: OutgoingCallTrace,
  ) => {
    let description = await pool.describe(request.server, signal);
    if (!namesOf(description).has(request.tool)) description = await pool.relist(request.server, signal);
    // Decisions follow the description the call is checked against (a tool added since is decided too).
    shown(description);
    if (namesOf(description).has(request.tool)) return gated(request, signal, context, trace);
    const refusal = () => unknownToolError(description, request.tool);
    if (gate) return gate.refuse(request, signal, context, refusal);
    throw refusal();
  };

  return {
    catalog: () => pool.catalog(),
    async describe(names, signal) {
      const requested = [...new Set(names)];
      pool.assertKnown(requested);
      return Promise.all(requested.map(async (name) => shown(await pool.describe(name, signal))));
    },
    callTool(request, signal, context, trace) {
      const described = pool.describedNow(request.server);
      if (described && namesOf(described).has(request.tool)) return gated(request, signal, context, trace);
      return checkedCall(request, signal, context, trace);
    },
    runEnded: gate ? (context) => gate.runEnded(context) : () => {},
    async search(query, limit, signal, extra = []) {
      const { described, unavailable } = await describeAll(signal);
      const hits: SearchHit[] = searchTools(indexFor(described, extra), query, limit);
      return { hits, described, unavailable };
    },
  };
}
