/**
 * The part of oidc-provider the test issuer uses (test/helpers/oauth-issuer.ts): the package ships no
 * types, and a whole @types package for one constructor and one callback is not worth a dependency.
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  type Context = unknown;
  interface ClientLike {
    clientId: string;
  }
  interface TokenLike {
    clientId?: string;
    resourceServer?: { accessTokenTTL?: number };
  }

  export interface Configuration {
    clients?: Array<Record<string, unknown>>;
    jwks?: { keys: Array<Record<string, unknown>> };
    scopes?: string[];
    ttl?: Record<string, number | ((context: Context, token: TokenLike, client: ClientLike) => number)>;
    features?: Record<string, unknown> & {
      resourceIndicators?: {
        enabled: boolean;
        defaultResource?: (context: Context) => string | undefined;
        useGrantedResource?: (context: Context) => boolean;
        getResourceServerInfo?: (
          context: Context,
          resource: string,
          client: ClientLike,
        ) => Record<string, unknown>;
      };
    };
    extraTokenClaims?: (context: Context, token: TokenLike) => Record<string, unknown>;
  }

  export default class Provider {
    constructor(issuer: string, configuration?: Configuration);
    callback(): (request: IncomingMessage, response: ServerResponse) => void;
  }
}
