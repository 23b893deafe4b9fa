/**
 * The web console under `/console` (same auth as MCP: the token, or the cookie its sign-in sets):
 * one HTML page, one script module and a stylesheet, all served from this package (no CDN; see
 * console-assets.ts), and a small JSON API: runs (with live updates as server-sent events), state, catalog search
 * and a "try it" endpoint that runs code through the same engine, so the same policy applies.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Engine } from '../../engine/engine.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { HttpRoute } from '../http/http-server.js';
import { readBody } from '../http/read-body.js';
import { type ConsoleAssets, loadConsoleAssets } from './console-assets.js';
import { pythonSignature } from './python-signature.js';
import { RunEventStream } from './run-event-stream.js';
import type { RunFeed } from './run-feed.js';

const PREFIX = '/console';
const MAX_TRY_BODY_BYTES = 1_100_000;

export interface ConsoleSearchHit {
  server: string;
  alias: string;
  tool: string;
  toolAlias: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  score: number;
}

export interface ConsoleRouteOptions {
  engine: Engine;
  feed: RunFeed;
  /** Pool, sessions, upstream health, serving configuration: nothing secret. */
  state(): Promise<unknown>;
  /** The ranking `search_tool_docs` uses. */
  search(query: string, limit: number, signal: AbortSignal): Promise<ConsoleSearchHit[]>;
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
    handle: (request, response, url) => handle(options, assets, request, response, url),
  };
}

async function handle(
  options: ConsoleRouteOptions,
  assets: ConsoleAssets,
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
): Promise<void> {
  const path = url.pathname.slice(PREFIX.length) || '/';
  const asset = (type: string, body: string): void => {
    response.writeHead(200, { 'content-type': type, ...SECURITY_HEADERS }).end(body);
  };
  if (request.method === 'GET') {
    switch (path) {
      case '/':
        return asset('text/html; charset=utf-8', assets.html);
      case '/console.js':
        return asset('text/javascript; charset=utf-8', assets.js);
      case '/console.css':
        return asset('text/css; charset=utf-8', assets.css);
      case '/api/runs':
        return json(response, 200, { runs: options.feed.runs() });
      case '/api/state':
        return json(response, 200, await options.state());
      case '/api/events':
        return events(options, request, response);
      case '/api/search': {
        const query = (url.searchParams.get('q') ?? '').slice(0, 2000);
        const limit = Math.min(50, Math.max(1, Number(url.searchParams.get('limit') ?? 10) || 10));
        const abort = new AbortController();
        response.once('close', () => abort.abort());
        try {
          const hits = query.trim() === '' ? [] : await options.search(query, limit, abort.signal);
          return json(response, 200, {
            hits: hits.map((hit) => ({ ...hit, signature: pythonSignature(hit.toolAlias, hit.inputSchema) })),
          });
        } catch (error) {
          return json(response, 400, { error: errorMessage(error) });
        }
      }
    }
  }
  if (request.method === 'POST' && path === '/api/run') return tryIt(options, request, response);
  return json(response, 404, { error: `no such console resource: ${url.pathname}` });
}

/** Server-sent events: one `run` event each time a run starts, calls a tool or ends. */
function events(options: ConsoleRouteOptions, request: IncomingMessage, response: ServerResponse): void {
  const stream = new RunEventStream(response, {
    onDropped: (reason) =>
      options.logger.warn('dropped a console subscriber that fell behind', {
        reason,
        client: request.socket.remoteAddress,
      }),
  });
  const unsubscribe = options.feed.subscribe((run, json) => stream.update(run, json));
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
async function tryIt(options: ConsoleRouteOptions, request: IncomingMessage, response: ServerResponse) {
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
      { signal: abort.signal, session: 'console' },
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
