/**
 * Browser sign-ins to the console: a page cannot send a bearer header with every request, so signing
 * in with a token (a static one, or an OAuth access token pasted once) gives the browser a cookie
 * holding a random id, and the bridge remembers whose it is. Nothing in the cookie is derived from the
 * token: a tokens file of digests leaks no console session. A session lasts as long as its token is
 * valid (an OAuth token's `exp`), at most {@link MAX_CONSOLE_SESSION_MS}; all end when the bridge stops.
 */
import { randomBytes } from 'node:crypto';
import type { Principal } from '../../../engine/principal.js';

/** A console sign-in lasts a working day at most. */
export const MAX_CONSOLE_SESSION_MS = 12 * 60 * 60 * 1000;
/** Sign-ins kept at once; the oldest go first (a flood of sign-ins cannot grow the bridge). */
const MAX_CONSOLE_SESSIONS = 10_000;

interface ConsoleSession {
  principal: Principal;
  expiresAt: number;
}

export class ConsoleSessions {
  readonly #sessions = new Map<string, ConsoleSession>();

  /** A new sign-in of `principal` until `expiresAt` (capped); returns the cookie's value. */
  create(principal: Principal, expiresAt: number | undefined, now = Date.now()): string {
    const id = randomBytes(32).toString('base64url');
    this.#sessions.set(id, {
      principal,
      expiresAt: Math.min(expiresAt ?? Number.POSITIVE_INFINITY, now + MAX_CONSOLE_SESSION_MS),
    });
    for (const [oldest] of this.#sessions) {
      if (this.#sessions.size <= MAX_CONSOLE_SESSIONS) break;
      this.#sessions.delete(oldest);
    }
    return id;
  }

  /** Whose sign-in a cookie is, while it lasts. */
  principal(id: string | undefined, now = Date.now()): Principal | undefined {
    if (id === undefined) return undefined;
    const session = this.#sessions.get(id);
    if (!session) return undefined;
    if (session.expiresAt <= now) {
      this.#sessions.delete(id);
      return undefined;
    }
    return session.principal;
  }

  /** Signs out. */
  delete(id: string | undefined): void {
    if (id !== undefined) this.#sessions.delete(id);
  }
}
