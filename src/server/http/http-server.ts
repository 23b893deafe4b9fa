/**
 * MCP over streamable HTTP (the SDK's transport), one MCP session per client: each session gets its
 * own `McpServer` and transport, so runs, cancellation and per-client state never cross clients.
 * Every request is someone's: the auth (auth/http-auth.ts) turns its bearer token, or the console's
 * sign-in cookie, into a principal, and a session answers only to the principal that opened it.
 * In front of it: caps on connections per client and in all, timeouts for a request's head and body
 * and for idle connections, the Host, Origin and Sec-Fetch-Site checks, the auth, limits on sessions
 * per principal and in all (session-limits.ts), an idle expiry, a body size cap, and extra routes
 * (`/metrics`, `/console`) under the same auth; OAuth's protected resource metadata is public.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Principal } from '../../engine/principal.js';
import { errorMessage } from '../../shared/errors.js';
import {
  describeOutOfFileDescriptors,
  isOutOfFileDescriptors,
  OPEN_FILE_LIMIT,
  openDescriptorCount,
} from '../../shared/fd-exhaustion.js';
import type { Logger } from '../../shared/logger.js';
import { ConsoleSessions, MAX_CONSOLE_SESSION_MS } from './auth/console-sessions.js';
import type { AuthOutcome, HttpAuth } from './auth/http-auth.js';
import { coalesceWrites } from './coalesce-writes.js';
import { ConnectionLimits, type Refusal } from './connection-limits.js';
import {
  bearerToken,
  cookieValue,
  fetchSiteAllowed,
  hostAllowed,
  isJsonContentType,
  originAllowed,
} from './http-guard.js';
import { sendLoginPage } from './login-page.js';
import { readBody } from './read-body.js';
import { makeRoom } from './session-limits.js';

/** Where MCP is served. */
export const MCP_PATH = '/mcp';
/** Largest request body: run_python's code is capped at 1,000,000 characters, JSON-escaped up to ~6 MB. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;
const SWEEP_INTERVAL_MS = 30_000;
/** A POST's response that ends within this long goes out in one socket write (coalesce-writes.ts). */
const COALESCE_MS = 50;
/** Refusals and accept failures come in floods: one log line of each kind at most this often. */
const THROTTLED_LOG_INTERVAL_MS = 10_000;
/** How often the descriptors in use are counted, and how close to the limit is too close. */
const DESCRIPTOR_CHECK_INTERVAL_MS = 5_000;
const DESCRIPTOR_HEADROOM = 16;
/** The console's cookie: a random sign-in id (auth/console-sessions.ts), nothing derived from a token. */
export const CONSOLE_COOKIE = 'codemode_console';
/** At a limit, an idle session whose client still holds its notification stream may be closed after this. */
const EVICT_IDLE_MS = 60_000;

export interface HttpRoute {
  /** Path prefix this route serves, e.g. `/metrics`. */
  prefix: string;
  /** Browser pages: the console cookie authenticates too, and `?token=` / the login form set it. */
  browser?: boolean;
  /** Answers a request of `principal` (who sent it). */
  handle(
    request: IncomingMessage,
    response: ServerResponse,
    url: URL,
    principal: Principal,
  ): void | Promise<void>;
}

export interface BridgeHttpServerOptions {
  host: string;
  port: number;
  /** Who is calling; without credentials (`required` false) the caller allows loopback only. */
  auth: HttpAuth;
  /** Origins allowed besides the server's own on loopback. */
  allowedOrigins: readonly string[];
  maxSessions: number;
  /** MCP sessions one principal may hold at once. */
  maxSessionsPerPrincipal: number;
  /** A session with no request for this long is closed (its client vanished without DELETE). */
  sessionIdleMs: number;
  /** Connection caps and timeouts (cli/http-settings.ts has the defaults). */
  connections: ConnectionOptions;
  /** A fresh MCP server for one session of `principal`. */
  createSession(principal: Principal): McpServer;
  /** A session ended (closed by its client, expired, made room, or the server is closing). */
  onSessionClosed?(sessionId: string, principal: Principal): void;
  /**
   * A principal has had no MCP session for `principalIdleMs`: what it owns may go (its named sessions,
   * saved values, kept output, runs still going). Not called at shutdown.
   */
  onPrincipalIdle?(principal: Principal): void;
  principalIdleMs?: number;
  /** The OAuth issuer, named on the console's sign-in page; undefined: no OAuth. */
  oauthIssuer?: string;
  routes?: HttpRoute[];
  logger: Logger;
}

export interface ConnectionOptions {
  /** A connection must have sent a request's head this long after connecting or starting it (408). */
  headersTimeoutMs: number;
  /** A request's head and body must have arrived this long after it started; its answer may take longer. */
  requestTimeoutMs: number;
  /** A kept-alive connection with no request in flight is closed after this long. */
  idleTimeoutMs: number;
  /** Connections at once from one client (connection-limits.ts says what a client is). */
  maxPerClient: number;
  /** Connections at once in all. */
  maxTotal: number;
}

export interface HttpSessionInfo {
  id: string;
  /** Who opened it: only this principal's requests reach it. */
  principal: Principal;
  createdAt: number;
  lastSeenAt: number;
  /** Requests (POSTs) being answered now. */
  inFlight: number;
  /** Notification streams (GETs) open now: a client that exited has none. */
  streams: number;
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
  #descriptorCheck: NodeJS.Timeout | undefined;
  #draining = false;
  readonly #signIns = new ConsoleSessions();
  readonly #limits: ConnectionLimits;
  /** Connections over a cap: answered 503 and closed, never served even if a request slips in. */
  readonly #refused = new WeakSet<Socket>();
  readonly #throttled = new Map<string, { loggedAt: number; suppressed: number }>();
  /** Principals whose last session has closed, with the timer that says they have gone. */
  readonly #leaving = new Map<string, NodeJS.Timeout>();

  constructor(options: BridgeHttpServerOptions) {
    this.#options = options;
    const { connections } = options;
    this.#limits = new ConnectionLimits({
      maxPerClient: connections.maxPerClient,
      maxTotal: connections.maxTotal,
    });
    this.#http = createServer(
      {
        // Both count from a request's first byte, or from connecting for a connection that sends
        // nothing, and cover receiving the request only: a run's answer may stream for minutes.
        headersTimeout: connections.headersTimeoutMs,
        requestTimeout: connections.requestTimeoutMs,
        // Node checks those deadlines on this interval (30 s by default): often enough to keep them.
        connectionsCheckingInterval: Math.min(
          1000,
          Math.max(100, Math.floor(connections.headersTimeoutMs / 4)),
        ),
      },
      (request, response) => {
        if (this.#refused.has(request.socket)) {
          request.socket.destroy();
          return;
        }
        this.#handle(request, response).catch((error) => {
          options.logger.error('HTTP request failed', { error, path: request.url });
          if (!response.headersSent) send(response, 500, 'internal error\n');
          else response.end();
        });
      },
    );
    this.#http.keepAliveTimeout = connections.idleTimeoutMs;
    // Before Node's own listener sets up the HTTP parser: a refused connection is never parsed.
    this.#http.prependListener('connection', (socket: Socket) => this.#admit(socket));
  }

  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.#http.once('error', reject);
      this.#http.listen(this.#options.port, this.#options.host, () => {
        this.#http.off('error', reject);
        resolve();
      });
    });
    // Once listening, an error is a failed accept; unheard, it would be an uncaught exception.
    this.#http.on('error', (error) => this.#acceptFailed(error));
    this.#sweep = setInterval(() => this.#expireIdle(), SWEEP_INTERVAL_MS);
    this.#sweep.unref();
    this.#descriptorCheck = setInterval(() => void this.#checkDescriptors(), DESCRIPTOR_CHECK_INTERVAL_MS);
    this.#descriptorCheck.unref();
    return this.#http.address() as AddressInfo;
  }

  /** Counts the connection against the caps, or answers 503 and closes it. */
  #admit(socket: Socket): void {
    const admitted = this.#limits.admit(socket.remoteAddress);
    if ('release' in admitted) {
      socket.once('close', admitted.release);
      return;
    }
    this.#refused.add(socket);
    const text = refusalText(admitted.refused, this.#options.connections);
    this.#throttledWarn(`refused:${admitted.refused.limit}`, 'refused connections over a limit', {
      reason: text.trim(),
    });
    socket.once('error', () => {});
    socket.end(
      `HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\nretry-after: 10\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
    );
    socket.once('finish', () => socket.destroy());
  }

  #acceptFailed(error: Error): void {
    if (isOutOfFileDescriptors(error)) {
      this.#outOfDescriptors(error, undefined);
      return;
    }
    this.#throttledWarn(`accept:${(error as NodeJS.ErrnoException).code}`, 'accepting a connection failed', {
      error: errorMessage(error),
    });
  }

  /**
   * Counted rather than waited for: when no descriptor is left, libuv closes the connections it
   * cannot accept without a word to Node, and sandboxes fail to start one run at a time.
   */
  async #checkDescriptors(): Promise<void> {
    const open = await openDescriptorCount();
    if (open === 'exhausted') this.#outOfDescriptors(undefined, undefined);
    else if (
      open !== undefined &&
      OPEN_FILE_LIMIT !== undefined &&
      open >= OPEN_FILE_LIMIT - DESCRIPTOR_HEADROOM
    ) {
      this.#outOfDescriptors(undefined, open);
    }
  }

  #outOfDescriptors(error: unknown, open: number | undefined): void {
    this.#throttledWarn(
      'descriptors',
      `${describeOutOfFileDescriptors(error)}: new connections are dropped and sandboxes cannot start`,
      {
        ...(open !== undefined ? { open } : {}),
        connections: this.#limits.total,
        hint: 'close idle clients or sessions, lower MCP_BRIDGE_HTTP_MAX_CONNECTIONS, or raise the limit',
      },
    );
  }

  /** A warning logged at most once per interval for its key, saying how many were not. */
  #throttledWarn(key: string, message: string, fields: Record<string, unknown>): void {
    const now = Date.now();
    const entry = this.#throttled.get(key);
    if (entry && now - entry.loggedAt < THROTTLED_LOG_INTERVAL_MS) {
      entry.suppressed++;
      return;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.#throttled.set(key, { loggedAt: now, suppressed: 0 });
    this.#options.logger.warn(message, { ...fields, ...(suppressed > 0 ? { alsoSince: suppressed } : {}) });
  }

  sessions(): HttpSessionInfo[] {
    return [...this.#sessions.values()].map((session) => ({ ...session.info }));
  }

  /** How many sessions `principalId` holds now. */
  sessionsOf(principalId: string): number {
    let count = 0;
    for (const session of this.#sessions.values()) if (session.info.principal.id === principalId) count++;
    return count;
  }

  /**
   * Stops taking work, lets the requests being answered (runs) finish for up to `graceMs`, then
   * closes every session, which cancels the runs still going (their sandboxes are killed). The port
   * stays open while runs drain, so a new health probe (a load balancer's, a supervisor's) hears
   * `draining` (503) rather than a refused connection it could not tell from a crash, and a new
   * request a 503 with `retry-after`; each of those connections closes after its answer.
   */
  async close(graceMs: number): Promise<void> {
    this.#draining = true;
    for (const timer of this.#leaving.values()) clearTimeout(timer);
    this.#leaving.clear();
    if (this.#sweep) clearInterval(this.#sweep);
    if (this.#descriptorCheck) clearInterval(this.#descriptorCheck);
    this.#http.closeIdleConnections();
    const running = () => [...this.#sessions.values()].some((session) => session.info.inFlight > 0);
    if (running()) {
      this.#options.logger.info('waiting for runs to finish', { graceMs });
      const deadline = Date.now() + graceMs;
      while (running() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    this.#http.close();
    await Promise.all([...this.#sessions.keys()].map((id) => this.#closeSession(id)));
    this.#http.closeAllConnections();
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const options = this.#options;
    const url = new URL(request.url ?? '/', 'http://bridge.invalid');
    if (!hostAllowed(request.headers.host, options.auth.required)) {
      return send(response, 403, 'Forbidden: this server answers only to localhost names (Host header).\n');
    }
    // Public by design (RFC 9728), and read by browser-based clients of any origin.
    const document = options.auth.publicDocument(url.pathname);
    if (document) return sendPublicDocument(request, response, document);
    const origin = request.headers.origin;
    if (!originAllowed(origin, { port: this.#port(), allowed: options.allowedOrigins })) {
      options.logger.warn('refused a request from another origin', { origin });
      return send(
        response,
        403,
        `Forbidden: origin ${origin} is not allowed (MCP_BRIDGE_HTTP_ALLOWED_ORIGINS).\n`,
      );
    }
    // Draining: no connection is kept alive past its answer, so the listener's close is not held up.
    if (this.#draining) response.setHeader('connection', 'close');
    if (url.pathname === '/healthz')
      return send(response, this.#draining ? 503 : 200, this.#draining ? 'draining\n' : 'ok\n');
    if (this.#draining) return send(response, 503, 'The bridge is shutting down.\n', { 'retry-after': '5' });
    const route = options.routes?.find(
      (each) => url.pathname === each.prefix || url.pathname.startsWith(`${each.prefix}/`),
    );
    const page =
      route?.browser === true && (url.pathname === route.prefix || url.pathname === `${route.prefix}/`);
    const listed =
      origin !== undefined &&
      options.allowedOrigins.some((allowed) => allowed.toLowerCase() === origin.toLowerCase());
    if (
      !fetchSiteAllowed(
        {
          site: headerValue(request.headers['sec-fetch-site']),
          mode: headerValue(request.headers['sec-fetch-mode']),
          method: request.method,
        },
        page,
        listed,
      )
    ) {
      this.#throttledWarn('cross-site', 'refused a request another site started', {
        site: request.headers['sec-fetch-site'],
        path: url.pathname.slice(0, 100),
      });
      return send(response, 403, 'Forbidden: another site started this request.\n');
    }
    if (route?.browser && this.#signInOrOut(request, response, url, route.prefix)) return;
    const outcome = await this.#authenticate(request, route?.browser === true);
    if (outcome.kind === 'refused') {
      if (route?.browser && request.method === 'GET' && outcome.status === 401) {
        return sendLoginPage(response, route.prefix, {
          failed: url.searchParams.has('failed'),
          oauthIssuer: options.oauthIssuer,
        });
      }
      if (request.headers.authorization !== undefined) {
        this.#throttledWarn(`auth:${outcome.status}`, 'refused a credential', { reason: outcome.message });
      }
      return send(response, outcome.status, `${outcome.message}\n`, outcome.headers);
    }
    if (route) return route.handle(request, response, url, outcome.principal);
    if (url.pathname === MCP_PATH) return this.#mcp(request, response, outcome.principal);
    return send(response, 404, `Not found. MCP is served at ${MCP_PATH}.\n`);
  }

  #port(): number {
    const address = this.#http.address();
    return typeof address === 'object' && address !== null ? address.port : this.#options.port;
  }

  /** The bearer token's principal, or on a browser route the console sign-in's. */
  async #authenticate(request: IncomingMessage, browser: boolean): Promise<AuthOutcome> {
    const bearer = bearerToken(request.headers.authorization);
    if (bearer === undefined && browser) {
      const principal = this.#signIns.principal(cookieValue(request.headers.cookie, CONSOLE_COOKIE));
      if (principal) return { kind: 'principal', principal };
    }
    return this.#options.auth.authenticate(bearer);
  }

  /**
   * The console's sign-in: `POST <prefix>/login` with the token as a form field, or `?token=` once in
   * a link. Either sets an HttpOnly, SameSite=Strict cookie holding a random sign-in id, then
   * redirects to the page without the token in its address; `POST <prefix>/logout` ends it. Whether
   * it handled the request.
   */
  #signInOrOut(request: IncomingMessage, response: ServerResponse, url: URL, prefix: string): boolean {
    const { auth } = this.#options;
    if (!auth.required) return false;
    if (request.method === 'POST' && url.pathname === `${prefix}/logout`) {
      this.#signIns.delete(cookieValue(request.headers.cookie, CONSOLE_COOKIE));
      response
        .writeHead(303, {
          location: prefix,
          'set-cookie': `${CONSOLE_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`,
        })
        .end();
      return true;
    }
    const fromQuery = url.searchParams.get('token');
    const isForm = request.method === 'POST' && url.pathname === `${prefix}/login`;
    if (fromQuery === null && !isForm) return false;
    const finish = async (given: string | undefined) => {
      const outcome = given === undefined || given === '' ? undefined : await auth.authenticate(given);
      if (outcome?.kind !== 'principal') {
        response.writeHead(303, { location: `${prefix}?failed=1` }).end();
        return;
      }
      const now = Date.now();
      const id = this.#signIns.create(outcome.principal, outcome.expiresAt, now);
      const maxAge = Math.max(
        1,
        Math.floor(((outcome.expiresAt ?? now + MAX_CONSOLE_SESSION_MS) - now) / 1000),
      );
      const secure = request.headers['x-forwarded-proto'] === 'https' ? '; Secure' : '';
      response
        .writeHead(303, {
          location: prefix,
          'set-cookie': `${CONSOLE_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.min(maxAge, MAX_CONSOLE_SESSION_MS / 1000)}${secure}`,
        })
        .end();
    };
    const fail = (error: unknown) => {
      this.#options.logger.warn('console sign-in failed', { error: errorMessage(error) });
      if (!response.headersSent) send(response, 500, 'internal error\n');
    };
    if (fromQuery !== null) {
      finish(fromQuery).catch(fail);
      return true;
    }
    readBody(request, 64 * 1024).then(
      (body) => finish(new URLSearchParams(body.toString('utf8')).get('token') ?? undefined).catch(fail),
      () => send(response, 413, 'Too large.\n'),
    );
    return true;
  }

  async #mcp(request: IncomingMessage, response: ServerResponse, principal: Principal): Promise<void> {
    const sessionId = headerValue(request.headers['mcp-session-id']);
    let body: unknown;
    if (request.method === 'POST') {
      // A form or a `no-cors` fetch can send text/plain; only a JSON body (which needs a preflight
      // from another origin) is read at all.
      if (!isJsonContentType(request.headers['content-type'])) {
        return sendJsonRpcError(
          response,
          415,
          -32000,
          'Unsupported Media Type: send Content-Type: application/json.',
        );
      }
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
      // The SDK's transport still runs a batch, which MCP removed in its 2025-06-18 revision; and
      // answers JSON that is no message at all as a parse error. Both are JSON-RPC's Invalid Request.
      if (Array.isArray(body)) {
        return sendJsonRpcError(
          response,
          400,
          -32600,
          `Invalid request: a JSON-RPC batch (an array of ${body.length} messages); MCP takes no batches since its 2025-06-18 revision: send each message in its own POST.`,
        );
      }
      if (typeof body !== 'object' || body === null) {
        return sendJsonRpcError(
          response,
          400,
          -32600,
          'Invalid request: the body is JSON but not a JSON-RPC message (an object).',
        );
      }
    }
    if (sessionId !== undefined) {
      const session = this.#sessions.get(sessionId);
      // Another principal's session is answered as one that does not exist: ids are not to be probed.
      if (!session || session.info.principal.id !== principal.id) {
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
    const initialize = isInitializeRequest(body);
    if (request.method !== 'POST' || !initialize) {
      return sendJsonRpcError(
        response,
        400,
        -32000,
        'Bad request: no Mcp-Session-Id header; send initialize first.',
      );
    }
    const options = this.#options;
    const room = makeRoom(
      [...this.#sessions.values()].map(({ info }) => ({
        id: info.id,
        principalId: info.principal.id,
        lastSeenAt: info.lastSeenAt,
        inFlight: info.inFlight,
        streams: info.streams,
      })),
      principal.id,
      {
        maxSessions: options.maxSessions,
        maxPerPrincipal: options.maxSessionsPerPrincipal,
        evictIdleMs: EVICT_IDLE_MS,
      },
      Date.now(),
    );
    if (!room.ok) {
      const text =
        room.limit === 'principal'
          ? `Too many MCP sessions of yours (${principal.name}) are busy (MCP_BRIDGE_HTTP_MAX_SESSIONS_PER_PRINCIPAL=${options.maxSessionsPerPrincipal}); close one or try later.`
          : `Too many MCP sessions (MCP_BRIDGE_HTTP_MAX_SESSIONS=${options.maxSessions}); close one or try later.`;
      options.logger.warn('refused a new MCP session: a limit is reached', {
        principal: principal.id,
        limit: room.limit,
      });
      return sendJsonRpcError(response, 503, -32000, text, { 'retry-after': '10' });
    }
    if (room.evict !== undefined) {
      const victim = this.#sessions.get(room.evict);
      options.logger.info('closing an idle MCP session to make room for a new one', {
        session: room.evict,
        principal: victim?.info.principal.id,
        for: principal.id,
      });
      await this.#closeSession(room.evict);
    }
    await this.#openSession(request, response, body, principal);
  }

  async #openSession(
    request: IncomingMessage,
    response: ServerResponse,
    body: unknown,
    principal: Principal,
  ): Promise<void> {
    let session: Session | undefined;
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        if (!session) return;
        session.info.id = id;
        this.#sessions.set(id, session);
        clearTimeout(this.#leaving.get(principal.id));
        this.#leaving.delete(principal.id);
        this.#options.logger.info('MCP session opened', {
          session: id,
          principal: principal.id,
          sessions: this.#sessions.size,
        });
      },
      onsessionclosed: (id) => void this.#closeSession(id),
    });
    const clientName = (body as { params?: { clientInfo?: { name?: unknown } } }).params?.clientInfo?.name;
    const server = this.#options.createSession(principal);
    const now = Date.now();
    session = {
      info: {
        id: '',
        principal,
        createdAt: now,
        lastSeenAt: now,
        inFlight: 0,
        streams: 0,
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
    if (request.method === 'GET') {
      // The client's notification stream, not work: it does not hold the session open, but while it is
      // open the client is alive (one that exited has closed it), so the session is not closed to make room.
      session.info.streams++;
      response.once('close', () => {
        session.info.streams--;
      });
      return session.transport.handleRequest(request, response, body);
    }
    if (request.method !== 'POST') return session.transport.handleRequest(request, response, body);
    session.info.inFlight++;
    response.once('close', () => {
      session.info.inFlight--;
      session.info.lastSeenAt = Date.now();
    });
    coalesceWrites(response, COALESCE_MS);
    await session.transport.handleRequest(request, response, body);
  }

  async #closeSession(id: string): Promise<void> {
    const session = this.#sessions.get(id);
    if (!session) return;
    this.#sessions.delete(id);
    this.#options.logger.info('MCP session closed', {
      session: id,
      principal: session.info.principal.id,
      sessions: this.#sessions.size,
    });
    // Closing the server aborts its handlers' signals: a run still going is cancelled, its sandbox killed.
    await session.server
      .close()
      .catch((error) =>
        this.#options.logger.debug('closing a session failed', { error: errorMessage(error) }),
      );
    try {
      this.#options.onSessionClosed?.(id, session.info.principal);
    } catch (error) {
      this.#options.logger.warn('session clean-up failed', { session: id, error });
    }
    this.#watchLeaving(session.info.principal);
  }

  /** After its last session, a principal that opens none for `principalIdleMs` has gone. */
  #watchLeaving(principal: Principal): void {
    const { onPrincipalIdle, principalIdleMs } = this.#options;
    if (!onPrincipalIdle || this.#draining || this.sessionsOf(principal.id) > 0) return;
    clearTimeout(this.#leaving.get(principal.id));
    const timer = setTimeout(() => {
      this.#leaving.delete(principal.id);
      if (this.sessionsOf(principal.id) > 0) return;
      this.#options.logger.info('a principal has gone: ending what it left', { principal: principal.id });
      try {
        onPrincipalIdle(principal);
      } catch (error) {
        this.#options.logger.warn('principal clean-up failed', { principal: principal.id, error });
      }
    }, principalIdleMs ?? 0);
    timer.unref();
    this.#leaving.set(principal.id, timer);
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

function refusalText(refusal: Refusal, connections: ConnectionOptions): string {
  if (refusal.limit === 'total') {
    return `Too many connections (MCP_BRIDGE_HTTP_MAX_CONNECTIONS=${connections.maxTotal}); try again later.\n`;
  }
  const who = refusal.client === 'loopback' ? 'this machine (loopback)' : refusal.client;
  return `Too many connections from ${who} (MCP_BRIDGE_HTTP_MAX_CONNECTIONS_PER_CLIENT=${connections.maxPerClient}); close some and try again.\n`;
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

/** A public document (OAuth's protected resource metadata): readable from any origin, never work. */
function sendPublicDocument(
  request: IncomingMessage,
  response: ServerResponse,
  document: Record<string, unknown>,
): void {
  const cors = {
    'access-control-allow-origin': '*',
    'access-control-allow-methods': 'GET, OPTIONS',
    'access-control-allow-headers': 'mcp-protocol-version',
  };
  if (request.method === 'OPTIONS') {
    response.writeHead(204, cors).end();
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    send(response, 405, 'Method not allowed.\n', { allow: 'GET, OPTIONS', ...cors });
    return;
  }
  response
    .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300', ...cors })
    .end(request.method === 'HEAD' ? undefined : JSON.stringify(document));
}
