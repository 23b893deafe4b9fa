/**
 * Who may talk to the HTTP server: the Host check that stops DNS rebinding when the server listens on
 * loopback without a token, and the Origin and Sec-Fetch-Site checks that stop other web pages from
 * driving it from a browser. Pure functions over header values, unit-tested.
 */

/** Names that always mean this machine. */
const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/** Whether `host` (an address or name to bind or a Host header's name) is this machine only. */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase();
  return LOOPBACK_NAMES.has(name) || /^127(\.\d{1,3}){3}$/.test(name) || name.endsWith('.localhost');
}

/** The hostname of a Host header (`name:port`, `[v6]:port`), lower-cased; undefined when malformed. */
export function hostnameOf(hostHeader: string): string | undefined {
  try {
    return new URL(`http://${hostHeader}`).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

/** The token of an `Authorization: Bearer …` header. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}

/** One cookie's value from a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index < 0) continue;
    if (part.slice(0, index).trim() === name) {
      try {
        return decodeURIComponent(part.slice(index + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

export interface OriginPolicy {
  /** The port the server listens on: the loopback origins on it are always allowed. */
  port: number;
  /** More origins (`https://bridge.example.com`), exact scheme://host[:port], as configured. */
  allowed: readonly string[];
}

/**
 * Whether a request's Origin may use the server. No Origin: not a browser's cross-site request (MCP
 * clients and curl send none), allowed. Otherwise the origin must be the server's own on loopback or
 * one configured: a page on another site can never drive runs, even with the user's cookie.
 */
export function originAllowed(origin: string | undefined, policy: OriginPolicy): boolean {
  if (origin === undefined) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  const normalized = url.origin.toLowerCase();
  if (policy.allowed.some((allowed) => allowed.toLowerCase().replace(/\/+$/, '') === normalized)) return true;
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  return url.protocol === 'http:' && isLoopbackHost(url.hostname) && port === policy.port;
}

/**
 * Whether a Host header is acceptable. Without a token the server is for this machine only, so the
 * Host must name it (a rebound DNS name pointing at 127.0.0.1 is refused); with a token the Host is
 * whatever a reverse proxy forwards, and the token is the check.
 */
export function hostAllowed(hostHeader: string | undefined, tokenRequired: boolean): boolean {
  if (tokenRequired) return true;
  if (hostHeader === undefined) return false;
  const name = hostnameOf(hostHeader);
  return name !== undefined && isLoopbackHost(name);
}

/** What a browser says about a request: `Sec-Fetch-Site` and `Sec-Fetch-Mode`, sent by every current browser. */
export interface FetchMetadata {
  site: string | undefined;
  mode: string | undefined;
  method: string | undefined;
}

/**
 * Whether a request a browser sent may start anything: one from this origin, or typed or bookmarked
 * (`none`), or from an origin configured as allowed; from another site (or another port of
 * localhost, which browsers call `same-site`) only a link to a page (`page`: a top-level GET
 * navigation). Even without a token to steal, a page elsewhere then cannot make a visitor's browser
 * start runs or upstream servers with an image, a form or a `no-cors` fetch. Requests without the
 * header (MCP clients, curl, older browsers) are left to the Origin check and the routes' own
 * requirements (a JSON body, a custom header).
 */
export function fetchSiteAllowed(metadata: FetchMetadata, page: boolean, originListed: boolean): boolean {
  const { site } = metadata;
  if (site === undefined || site === 'same-origin' || site === 'none' || originListed) return true;
  return page && metadata.method === 'GET' && metadata.mode === 'navigate';
}

/** Whether a Content-Type header says JSON (`application/json`, any parameters). */
export function isJsonContentType(header: string | undefined): boolean {
  return /^application\/json\s*(;|$)/i.test(header?.trim() ?? '');
}
