/**
 * The web console under `/console` (same auth as MCP: a bearer token, or the cookie its sign-in sets):
 * one HTML page, one script module and a stylesheet, all served from this package (no CDN; see
 * console-assets.ts), and a small JSON API: runs (listed with filters, one by id, live changes as
 * server-sent events, cancel for an admin), state, catalog search and a "try it" endpoint that runs
 * code through the same engine, so the same policy applies.
 *
 * Every answer is for the principal asking: an admin sees every principal's runs and MCP sessions, a
 * user its own (`mayAccess`); "try it" runs as the principal, with its limits and its skills. The API
 * answers only requests that carry the header `X-Codemode-Console: 1` (or an `Authorization`
 * header), which no other site's image, link or form can send: on a bridge without a token, a page
 * elsewhere cannot make a visitor's browser search (and so start every upstream) or run code.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Engine } from '../../engine/engine.js';
import type { Principal } from '../../engine/principal.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { HttpRoute } from '../http/http-server.js';
import { readBody } from '../http/read-body.js';
import { type ConsoleAssets, loadConsoleAssets } from './console-assets.js';
import { pythonSignature } from './python-signature.js';
import { RunEventStream } from './run-event-stream.js';
import type { RunFeed, RunStatus } from './run-feed.js';
import type { RunFilter } from './run-store.js';

const PREFIX = '/console';
const MAX_TRY_BODY_BYTES = 1_100_000;
const MAX_LISTED_RUNS = 500;
const STATUSES: ReadonlySet<string> = new Set<RunStatus>([
  'running',
  'ok',
  'error',
  'timeout',
  'cancelled',
  'killed',
  'protocol_error',
  'not_started',
]);

export interface ConsoleSearchHit {
  server: string;
  alias: string;
  tool: string;
  toolAlias: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  score: number;
  /** The policy's decision for the tool, when a policy is in force. */
  policy?: { action: string; rule: string; reason: string };
}

export interface ConsoleRouteOptions {
  engine: Engine;
  feed: RunFeed;
  /** Pool, sessions (those `viewer` may see), upstream health, serving configuration: nothing secret. */
  state(viewer: Principal): Promise<unknown>;
  /** The ranking `search_tool_docs` uses, over what `viewer` may see. */
  search(query: string, limit: number, signal: AbortSignal, viewer: Principal): Promise<ConsoleSearchHit[]>;
  logger: Logger;
}

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export function consoleRoute(options: ConsoleRouteOptions): HttpRoute {
  const assets = loadConsoleAssets();
  return {
    prefix: PREFIX,
    browser: true,
    handle: (request, response, url, principal) => handle(options, assets, request, response, url, principal),
  };
}

async function handle(
  options: ConsoleRouteOptions,
  assets: ConsoleAssets,
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
  principal: Principal,
): Promise<void> {
  const path = url.pathname.slice(PREFIX.length) || '/';
  const asset = (type: string, body: string): void => {
    response.writeHead(200, { 'content-type': type, ...SECURITY_HEADERS }).end(body);
  };
  // The event stream is a read (EventSource cannot send headers); the Sec-Fetch-Site and Origin
  // checks keep other sites from opening it, and the browser keeps them from reading it.
  if (path.startsWith('/api/') && path !== '/api/events' && !fromConsole(request)) {
    return json(response, 403, { error: 'send the header X-Codemode-Console: 1 (the console does)' });
  }
  if (request.method === 'GET') {
    switch (path) {
      case '/':
        return asset('text/html; charset=utf-8', assets.html);
      case '/console.js':
        return asset('text/javascript; charset=utf-8', assets.js);
      case '/console.css':
        return asset('text/css; charset=utf-8', assets.css);
      case '/api/runs':
        return listRuns(options.feed, response, url, principal);
      case '/api/state':
        return json(response, 200, await options.state(principal));
      case '/api/me':
        return json(response, 200, { id: principal.id, name: principal.name, role: principal.role });
      case '/api/events':
        return events(options, request, response, principal);
      case '/api/search': {
        const query = (url.searchParams.get('q') ?? '').slice(0, 2000);
        const limit = Math.min(50, Math.max(1, Number(url.searchParams.get('limit') ?? 10) || 10));
        const abort = new AbortController();
        response.once('close', () => abort.abort());
        try {
          const hits = query.trim() === '' ? [] : await options.search(query, limit, abort.signal, principal);
          return json(response, 200, {
            hits: hits.map((hit) => ({ ...hit, signature: pythonSignature(hit.toolAlias, hit.inputSchema) })),
          });
        } catch (error) {
          return json(response, 400, { error: errorMessage(error) });
        }
      }
    }
  }
  const runPath = /^\/api\/runs\/([\w.-]{1,100})(\/cancel)?$/.exec(path);
  if (runPath && request.method === 'GET' && runPath[2] === undefined) {
    const run = options.feed.run(runPath[1] as string, principal);
    return run
      ? json(response, 200, { run })
      : json(response, 404, { error: `no run ${runPath[1]} that you may see (it may have been dropped)` });
  }
  if (runPath && request.method === 'POST' && runPath[2] !== undefined) {
    return cancelRun(options, request, response, runPath[1] as string, principal);
  }
  if (request.method === 'POST' && path === '/api/run') return tryIt(options, request, response, principal);
  return json(response, 404, { error: `no such console resource: ${url.pathname}` });
}

/** `GET /api/runs?status=&server=&session=&principal=&limit=`: summaries, newest first. */
function listRuns(feed: RunFeed, response: ServerResponse, url: URL, viewer: Principal) {
  const filter: RunFilter = {};
  const param = (name: string) => {
    const value = url.searchParams.get(name)?.trim();
    return value ? value.slice(0, 200) : undefined;
  };
  const status = param('status');
  if (status !== undefined) {
    if (!STATUSES.has(status)) {
      return json(response, 400, {
        error: `unknown status ${JSON.stringify(status)}: use one of ${[...STATUSES].join(', ')}`,
      });
    }
    filter.status = status as RunStatus;
  }
  const server = param('server');
  if (server !== undefined) filter.server = server;
  const session = param('session');
  if (session !== undefined) filter.session = session;
  const principal = param('principal');
  if (principal !== undefined) filter.principal = principal;
  const limit = Math.min(MAX_LISTED_RUNS, Math.max(1, Number(url.searchParams.get('limit') ?? 100) || 100));
  const runs = feed.runs(viewer, filter, limit);
  return json(response, 200, { runs, persistent: feed.persistent });
}

/**
 * `POST /api/runs/<id>/cancel`: an admin ends a run in flight, as if its client had cancelled it. The
 * request needs the console's header (no form or image of another site can send it) and passed the
 * server's Origin and Sec-Fetch-Site checks; a user may not, even its own runs (its client can).
 */
function cancelRun(
  options: ConsoleRouteOptions,
  request: IncomingMessage,
  response: ServerResponse,
  id: string,
  principal: Principal,
) {
  if (request.headers['x-codemode-console'] !== '1') {
    return json(response, 400, { error: 'send the header X-Codemode-Console: 1 (the console does)' });
  }
  if (principal.role !== 'admin') {
    return json(response, 403, {
      error: `only an admin may cancel runs from the console; ${principal.name} is a user`,
    });
  }
  const run = options.feed.run(id, principal);
  if (!run) return json(response, 404, { error: `no run ${id} (it may have been dropped)` });
  if (
    run.status !== 'running' ||
    !options.engine.cancel(run.runId, `from the console by ${principal.name}`)
  ) {
    return json(response, 409, { error: `run ${id} is not running (${run.status})` });
  }
  options.logger.info('run cancelled from the console', { run: run.runId, by: principal.id });
  return json(response, 202, { cancelled: id });
}

/** Whether a request carries what no cross-site image, link or form can: the console's header, or credentials. */
function fromConsole(request: IncomingMessage): boolean {
  return request.headers['x-codemode-console'] === '1' || request.headers.authorization !== undefined;
}

/** Server-sent events: a delta each time a run (that `viewer` may see) starts, calls a tool, prints or ends. */
function events(
  options: ConsoleRouteOptions,
  request: IncomingMessage,
  response: ServerResponse,
  viewer: Principal,
): void {
  const stream = new RunEventStream(response, {
    onDropped: (reason) =>
      options.logger.warn('dropped a console subscriber that fell behind', {
        reason,
        client: request.socket.remoteAddress,
      }),
  });
  const unsubscribe = options.feed.subscribe((run, json) => stream.update(run, json), viewer);
  response.once('close', () => {
    stream.close();
    unsubscribe();
  });
}

/**
 * "Try it": runs code through the engine like run_python does, so the policy, limits and audit log
 * apply. Nobody can be asked for approval here (no MCP client), so `ask` rules answer as the policy
 * says for clients without elicitation. Requires a JSON body and a custom header, which a form on
 * another site cannot send (with the Origin check, no cross-site request can start a run).
 */
async function tryIt(
  options: ConsoleRouteOptions,
  request: IncomingMessage,
  response: ServerResponse,
  principal: Principal,
) {
  if (
    request.headers['x-codemode-console'] !== '1' ||
    !request.headers['content-type']?.startsWith('application/json')
  ) {
    return json(response, 400, { error: 'send JSON with the header X-Codemode-Console: 1' });
  }
  let body: { code?: unknown; servers?: unknown; timeout?: unknown };
  try {
    body = JSON.parse((await readBody(request, MAX_TRY_BODY_BYTES)).toString('utf8'));
  } catch (error) {
    return json(response, 400, { error: `bad request: ${errorMessage(error)}` });
  }
  if (typeof body.code !== 'string' || body.code.trim() === '')
    return json(response, 400, { error: 'code is required' });
  const servers = Array.isArray(body.servers)
    ? body.servers.filter((each): each is string => typeof each === 'string')
    : [];
  const timeoutMs =
    typeof body.timeout === 'number' && body.timeout > 0 ? Math.round(body.timeout * 1000) : undefined;
  const abort = new AbortController();
  response.once('close', () => {
    if (!response.writableFinished) abort.abort();
  });
  try {
    const outcome = await options.engine.run(
      { code: body.code, servers, ...(timeoutMs !== undefined ? { timeoutMs } : {}) },
      { signal: abort.signal, session: 'console', principal },
    );
    return json(response, 200, outcome);
  } catch (error) {
    return json(response, 400, { status: 'not_started', error: errorMessage(error) });
  }
}

function json(response: ServerResponse, status: number, value: unknown): void {
  response
    .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    .end(JSON.stringify(value));
}
