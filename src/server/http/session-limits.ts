/**
 * Room for a new MCP session: each principal may hold `maxPerPrincipal`, the bridge `maxSessions`.
 * A client that exits without `DELETE` leaves its session behind, holding a slot until the idle expiry
 * (30 minutes); 32 short CLI calls used to lock a team out that long. So a session that looks
 * abandoned makes room: no request in flight and no open notification stream (a live SDK client keeps
 * its GET stream open; one that exited has closed its sockets), or idle for `evictIdleMs` even with a
 * stream. At its own limit a principal closes its own such session, oldest first; at the bridge's
 * limit, anyone's abandoned session goes first (those of the principal holding the most before
 * others), then an idle one of a principal holding more than the newcomer would, so a principal within
 * its share never loses a session to one above it, and nobody's leftovers block anyone else. Pure.
 */

export interface SessionLoad {
  id: string;
  principalId: string;
  /** When the session last sent a request or a request of it ended (epoch ms). */
  lastSeenAt: number;
  /** Requests (POSTs) being answered now. */
  inFlight: number;
  /** Notification streams (GETs) open now. */
  streams: number;
}

export interface SessionLimits {
  maxSessions: number;
  maxPerPrincipal: number;
  /** An idle session with its stream still open may be closed to make room after this long. */
  evictIdleMs: number;
}

/** What a new session of `principalId` needs: nothing, closing one session first, or a refusal. */
export type Room = { ok: true; evict?: string } | { ok: false; limit: 'principal' | 'total' };

export function makeRoom(
  sessions: readonly SessionLoad[],
  principalId: string,
  limits: SessionLimits,
  now: number,
): Room {
  const abandoned = (session: SessionLoad) => session.inFlight === 0 && session.streams === 0;
  const evictable = (session: SessionLoad) =>
    session.inFlight === 0 && (session.streams === 0 || now - session.lastSeenAt >= limits.evictIdleMs);
  const held = new Map<string, number>();
  for (const session of sessions) held.set(session.principalId, (held.get(session.principalId) ?? 0) + 1);
  const own = held.get(principalId) ?? 0;
  const oldestFirst = (a: SessionLoad, b: SessionLoad) =>
    Number(!abandoned(a)) - Number(!abandoned(b)) || a.lastSeenAt - b.lastSeenAt;
  if (own >= limits.maxPerPrincipal) {
    const victim = sessions
      .filter((session) => session.principalId === principalId && evictable(session))
      .sort(oldestFirst)[0];
    return victim ? { ok: true, evict: victim.id } : { ok: false, limit: 'principal' };
  }
  if (sessions.length < limits.maxSessions) return { ok: true };
  const victim = sessions
    .filter(
      (session) =>
        abandoned(session) ||
        (evictable(session) &&
          (session.principalId === principalId || (held.get(session.principalId) ?? 0) > own + 1)),
    )
    .sort(
      (a, b) =>
        Number(!abandoned(a)) - Number(!abandoned(b)) ||
        (held.get(b.principalId) ?? 0) - (held.get(a.principalId) ?? 0) ||
        a.lastSeenAt - b.lastSeenAt,
    )[0];
  return victim ? { ok: true, evict: victim.id } : { ok: false, limit: 'total' };
}
