/**
 * MCP over streamable HTTP (the SDK's transport), one MCP session per client: each session gets its
 * own `McpServer` and transport, so runs, cancellation and per-client state never cross clients.
 * In front of it: the Host and Origin checks, bearer-token auth, a limit on sessions, an idle expiry,
 * a body size cap, and extra routes (`/metrics`, `/console`) under the same auth.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { bearerToken, cookieValue, hostAllowed, originAllowed, tokenMatches } from './http-guard.js';
import { readBody } from './read-body.js';

/** Where MCP is served. */
export const MCP_PATH = '/mcp';
/** Largest request body: run_python's code is capped at 1,000,000 characters, JSON-escaped up to ~6 MB. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;
const SWEEP_INTERVAL_MS = 30_000;
/** The console's cookie: a digest of the token, never the token itself. */
export const CONSOLE_COOKIE = 'codemode_console';

export interface HttpRoute {
  /** Path prefix this route serves, e.g. `/metrics`. */
  prefix: string;
  /** Browser pages: the console cookie authenticates too, and `?token=` / the login form set it. */
  browser?: boolean;
  handle(request: IncomingMessage, response: ServerResponse, url: URL): void | Promise<void>;
}

export interface BridgeHttpServerOptions {
  host: string;
  port: number;
  /** The bearer token; undefined: no auth, which the caller allows on loopback only. */
  token: string | undefined;
  /** Origins allowed besides the server's own on loopback. */
  allowedOrigins: readonly string[];
  maxSessions: number;
  /** A session with no request for this long is closed (its client vanished without DELETE). */
  sessionIdleMs: number;
  /** A fresh MCP server for one session. */
  createSession(): McpServer;
  /** A session ended (closed by its client, expired, or the server is closing). */
  onSessionClosed?(sessionId: string): void;
  routes?: HttpRoute[];
  logger: Logger;
}

export interface HttpSessionInfo {
  id: string;
  createdAt: number;
  lastSeenAt: number;
  /** Requests (POSTs) being answered now. */
  inFlight: number;
  client?: string;
}

interface Session {
  info: HttpSessionInfo;
  server: McpServer;
  transport: StreamableHTTPServerTransport;
}

export class BridgeHttpServer {
  readonly #options: BridgeHttpServerOptions;
  readonly #sessions = new Map<string, Session>();
  readonly #http: Server;
  #sweep: NodeJS.Timeout | undefined;
  #draining = false;
  readonly #cookie: string | undefined;

  constructor(options: BridgeHttpServerOptions) {
    this.#options = options;
    this.#cookie = options.token === undefined ? undefined : consoleCookieValue(options.token);
    this.#http = createServer((request, response) => {
      this.#handle(request, response).catch((error) => {
        options.logger.error('HTTP request failed', { error, path: request.url });
        if (!response.headersSent) send(response, 500, 'internal error\n');
        else response.end();
      });
    });
    // Long runs stream for minutes: no request timeout here (the run's own timeout bounds it).
    this.#http.requestTimeout = 0;
    this.#http.headersTimeout = 30_000;
  }

  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.#http.once('error', reject);
      this.#http.listen(this.#options.port, this.#options.host, () => {
        this.#http.off('error', reject);
        resolve();
      });
    });
    this.#sweep = setInterval(() => this.#expireIdle(), SWEEP_INTERVAL_MS);
    this.#sweep.unref();
    return this.#http.address() as AddressInfo;
  }

  sessions(): HttpSessionInfo[] {
    return [...this.#sessions.values()].map((session) => ({ ...session.info }));
  }

  /**
   * Stops taking requests, lets the requests being answered (runs) finish for up to `graceMs`, then
   * closes every session, which cancels the runs still going (their sandboxes are killed).
   */
  async close(graceMs: number): Promise<void> {
    this.#draining = true;
    if (this.#sweep) clearInterval(this.#sweep);
    this.#http.close();
    this.#http.closeIdleConnections();
    const running = () => [...this.#sessions.values()].some((session) => session.info.inFlight > 0);
    if (running()) {
      this.#options.logger.info('waiting for runs to finish', { graceMs });
      const deadline = Date.now() + graceMs;
      while (running() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await Promise.all([...this.#sessions.keys()].map((id) => this.#closeSession(id)));
    this.#http.closeAllConnections();
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const options = this.#options;
    const url = new URL(request.url ?? '/', 'http://bridge.invalid');
    if (!hostAllowed(request.headers.host, options.token !== undefined)) {
      return send(response, 403, 'Forbidden: this server answers only to localhost names (Host header).\n');
    }
    const origin = request.headers.origin;
    if (!originAllowed(origin, { port: this.#port(), allowed: options.allowedOrigins })) {
      options.logger.warn('refused a request from another origin', { origin });
      return send(
        response,
        403,
        `Forbidden: origin ${origin} is not allowed (MCP_BRIDGE_HTTP_ALLOWED_ORIGINS).\n`,
      );
    }
    if (url.pathname === '/healthz')
      return send(response, this.#draining ? 503 : 200, this.#draining ? 'draining\n' : 'ok\n');
    if (this.#draining) return send(response, 503, 'The bridge is shutting down.\n', { 'retry-after': '5' });
    const route = options.routes?.find(
      (each) => url.pathname === each.prefix || url.pathname.startsWith(`${each.prefix}/`),
    );
    if (route?.browser && this.#login(request, response, url, route.prefix)) return;
    if (!this.#authorized(request, route?.browser === true)) {
      if (route?.browser && request.method === 'GET')
        return sendLoginPage(response, route.prefix, url.searchParams.has('failed'));
      return send(
        response,
        401,
        'Unauthorized: send Authorization: Bearer <token> (MCP_BRIDGE_HTTP_TOKEN).\n',
        {
          'www-authenticate': 'Bearer realm="codemode-bridge"',
        },
      );
    }
    if (route) return route.handle(request, response, url);
    if (url.pathname === MCP_PATH) return this.#mcp(request, response);
    return send(response, 404, `Not found. MCP is served at ${MCP_PATH}.\n`);
  }

  #port(): number {
    const address = this.#http.address();
    return typeof address === 'object' && address !== null ? address.port : this.#options.port;
  }

  #authorized(request: IncomingMessage, browser: boolean): boolean {
    const { token } = this.#options;
    if (token === undefined) return true;
    if (tokenMatches(bearerToken(request.headers.authorization), token)) return true;
    return (
      browser &&
      this.#cookie !== undefined &&
      tokenMatches(cookieValue(request.headers.cookie, CONSOLE_COOKIE), this.#cookie)
    );
  }

  /**
   * The console's sign-in: `POST <prefix>/login` with the token as a form field, or `?token=` once in
   * a link. Either sets an HttpOnly, SameSite=Strict cookie holding a digest of the token, then
   * redirects to the page without the token in its address. Whether it handled the request.
   */
  #login(request: IncomingMessage, response: ServerResponse, url: URL, prefix: string): boolean {
    const { token } = this.#options;
    if (token === undefined) return false;
    const fromQuery = url.searchParams.get('token');
    const isForm = request.method === 'POST' && url.pathname === `${prefix}/login`;
    if (fromQuery === null && !isForm) return false;
    const finish = (given: string | undefined) => {
      if (!tokenMatches(given, token)) {
        response.writeHead(303, { location: `${prefix}?failed=1` }).end();
        return;
      }
      const secure = request.headers['x-forwarded-proto'] === 'https' ? '; Secure' : '';
      response
        .writeHead(303, {
          location: prefix,
          'set-cookie': `${CONSOLE_COOKIE}=${this.#cookie}; HttpOnly; SameSite=Strict; Path=/${secure}`,
        })
        .end();
    };
    if (fromQuery !== null) {
      finish(fromQuery);
      return true;
    }
    readBody(request, 64 * 1024).then(
      (body) => finish(new URLSearchParams(body.toString('utf8')).get('token') ?? undefined),
      () => send(response, 413, 'Too large.\n'),
    );
    return true;
  }

  async #mcp(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const sessionId = headerValue(request.headers['mcp-session-id']);
    let body: unknown;
    if (request.method === 'POST') {
      let raw: Buffer;
      try {
        raw = await readBody(request, MAX_BODY_BYTES);
      } catch {
        return sendJsonRpcError(response, 413, -32600, `Request body larger than ${MAX_BODY_BYTES} bytes.`);
      }
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return sendJsonRpcError(response, 400, -32700, 'Parse error: the body is not JSON.');
      }
    }
    if (sessionId !== undefined) {
      const session = this.#sessions.get(sessionId);
      if (!session) {
        // The spec's answer for a session the server does not know: the client starts a new one.
        return sendJsonRpcError(
          response,
          404,
          -32001,
          'Session not found (expired or the bridge restarted); initialize a new session.',
        );
      }
      return this.#serve(session, request, response, body);
    }
    const initialize = Array.isArray(body) ? body.some(isInitializeRequest) : isInitializeRequest(body);
    if (request.method !== 'POST' || !initialize) {
      return sendJsonRpcError(
        response,
        400,
        -32000,
        'Bad request: no Mcp-Session-Id header; send initialize first.',
      );
    }
    if (this.#sessions.size >= this.#options.maxSessions) {
      this.#options.logger.warn('refused a new MCP session: the limit is reached', {
        max: this.#options.maxSessions,
      });
      return sendJsonRpcError(
        response,
        503,
        -32000,
        `Too many MCP sessions (MCP_BRIDGE_HTTP_MAX_SESSIONS=${this.#options.maxSessions}); close one or try later.`,
        { 'retry-after': '10' },
      );
    }
    await this.#openSession(request, response, body);
  }

  async #openSession(request: IncomingMessage, response: ServerResponse, body: unknown): Promise<void> {
    let session: Session | undefined;
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        if (!session) return;
        session.info.id = id;
        this.#sessions.set(id, session);
        this.#options.logger.info('MCP session opened', { session: id, sessions: this.#sessions.size });
      },
      onsessionclosed: (id) => void this.#closeSession(id),
    });
    const clientName = (body as { params?: { clientInfo?: { name?: unknown } } }).params?.clientInfo?.name;
    const server = this.#options.createSession();
    const now = Date.now();
    session = {
      info: {
        id: '',
        createdAt: now,
        lastSeenAt: now,
        inFlight: 0,
        ...(typeof clientName === 'string' ? { client: clientName.slice(0, 100) } : {}),
      },
      server,
      transport,
    };
    transport.onclose = () => {
      if (session?.info.id) void this.#closeSession(session.info.id);
    };
    await server.connect(transport);
    await this.#serve(session, request, response, body);
  }

  async #serve(
    session: Session,
    request: IncomingMessage,
    response: ServerResponse,
    body: unknown,
  ): Promise<void> {
    session.info.lastSeenAt = Date.now();
    // A GET is the client's long-lived notification stream, not work: it does not hold the session open.
    if (request.method !== 'POST') return session.transport.handleRequest(request, response, body);
    session.info.inFlight++;
    response.once('close', () => {
      session.info.inFlight--;
      session.info.lastSeenAt = Date.now();
    });
    await session.transport.handleRequest(request, response, body);
  }

  async #closeSession(id: string): Promise<void> {
    const session = this.#sessions.get(id);
    if (!session) return;
    this.#sessions.delete(id);
    this.#options.logger.info('MCP session closed', { session: id, sessions: this.#sessions.size });
    // Closing the server aborts its handlers' signals: a run still going is cancelled, its sandbox killed.
    await session.server
      .close()
      .catch((error) =>
        this.#options.logger.debug('closing a session failed', { error: errorMessage(error) }),
      );
    try {
      this.#options.onSessionClosed?.(id);
    } catch (error) {
      this.#options.logger.warn('session clean-up failed', { session: id, error });
    }
  }

  #expireIdle(): void {
    const cutoff = Date.now() - this.#options.sessionIdleMs;
    for (const session of this.#sessions.values()) {
      if (session.info.inFlight === 0 && session.info.lastSeenAt < cutoff) {
        this.#options.logger.info('MCP session expired', { session: session.info.id });
        void this.#closeSession(session.info.id);
      }
    }
  }
}

/** The console cookie's value for a token: a digest, so the browser never holds the token itself. */
export function consoleCookieValue(token: string): string {
  return createHash('sha256').update(`codemode-bridge console\0${token}`).digest('hex');
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export function send(
  response: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(text);
}

function sendJsonRpcError(
  response: ServerResponse,
  status: number,
  code: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  response
    .writeHead(status, { 'content-type': 'application/json', ...headers })
    .end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

function sendLoginPage(response: ServerResponse, prefix: string, failed: boolean): void {
  response
    .writeHead(401, {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    })
    .end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>codemode-bridge — sign in</title>
<style>body{font:15px system-ui,sans-serif;margin:4rem auto;max-width:28rem}input{font:inherit;width:100%;padding:.4rem;box-sizing:border-box}button{margin-top:.6rem;font:inherit}</style></head>
<body><h1>codemode-bridge console</h1>${failed ? '<p role="alert">That token was not accepted.</p>' : ''}
<form method="post" action="${prefix}/login"><label>Access token (MCP_BRIDGE_HTTP_TOKEN)<br><input type="password" name="token" autocomplete="current-password" autofocus></label><br><button type="submit">Sign in</button></form></body></html>`);
}
