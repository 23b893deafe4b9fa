/**
 * What the bridge says about itself as an OAuth protected resource (MCP authorization, RFC 9728): the
 * metadata document clients discover the authorization server from, where it is served, and the
 * `WWW-Authenticate` challenges of RFC 6750 that point clients to it. Pure.
 */

/** RFC 9728's well-known prefix; the resource's own path follows it (`…/oauth-protected-resource/mcp`). */
export const PROTECTED_RESOURCE_PATH = '/.well-known/oauth-protected-resource';

export interface ProtectedResource {
  /** The MCP endpoint as clients reach it (RFC 8707's resource indicator), e.g. https://bridge.example.com/mcp. */
  resource: string;
  /** The authorization server's issuer. */
  issuer: string;
  /** Scopes a token must carry; advertised and named in challenges. */
  scopes: readonly string[];
}

/** Where the metadata of `resource` is served: the well-known prefix, then the resource's path. */
export function resourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/+$/, '');
  return `${url.origin}${PROTECTED_RESOURCE_PATH}${path}`;
}

/** Whether a request path asks for the metadata (at the root, or with any resource path after it). */
export function isMetadataPath(pathname: string): boolean {
  return pathname === PROTECTED_RESOURCE_PATH || pathname.startsWith(`${PROTECTED_RESOURCE_PATH}/`);
}

/** The metadata document (RFC 9728 section 2). */
export function protectedResourceMetadata(resource: ProtectedResource): Record<string, unknown> {
  return {
    resource: resource.resource,
    authorization_servers: [resource.issuer],
    ...(resource.scopes.length > 0 ? { scopes_supported: [...resource.scopes] } : {}),
    bearer_methods_supported: ['header'],
    resource_name: 'codemode-bridge',
  };
}

/**
 * A `Bearer` challenge with its parameters quoted (RFC 6750 section 3); values lose what a quoted
 * string cannot hold (quotes, backslashes, controls), since they may quote a token's claims.
 */
export function bearerChallenge(parameters: Record<string, string | undefined>): string {
  const quoted = Object.entries(parameters)
    .filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== '')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: controls are exactly what is removed
    .map(([key, value]) => `${key}="${value.replace(/["\\\u0000-\u001f\u007f-\u009f]/g, '').slice(0, 300)}"`);
  return quoted.length > 0 ? `Bearer ${quoted.join(', ')}` : 'Bearer';
}
