import { describe, expect, it } from 'vitest';
import { makeRoom, type SessionLoad } from '../../../../src/server/http/session-limits.js';

const NOW = 1_000_000;
const limits = { maxSessions: 4, maxPerPrincipal: 2, evictIdleMs: 60_000 };

function session(
  id: string,
  principalId: string,
  idleS: number,
  state: Partial<SessionLoad> = {},
): SessionLoad {
  return { id, principalId, lastSeenAt: NOW - idleS * 1000, inFlight: 0, streams: 1, ...state };
}

describe('room for a new MCP session', () => {
  it('opens freely below both limits', () => {
    expect(makeRoom([session('a1', 'a', 0)], 'a', limits, NOW)).toEqual({ ok: true });
  });

  it("at a principal's limit closes its own abandoned session first, then its oldest idle one", () => {
    const gone = session('a1', 'a', 1, { streams: 0 });
    const live = session('a2', 'a', 300);
    expect(makeRoom([live, gone], 'a', limits, NOW)).toEqual({ ok: true, evict: 'a1' });
    expect(makeRoom([live, session('a3', 'a', 120)], 'a', limits, NOW)).toEqual({ ok: true, evict: 'a2' });
  });

  it('refuses when every own session is busy or recently used with its stream open', () => {
    const busy = session('a1', 'a', 600, { inFlight: 1, streams: 0 });
    const recent = session('a2', 'a', 5);
    expect(makeRoom([busy, recent], 'a', limits, NOW)).toEqual({ ok: false, limit: 'principal' });
  });

  it("at the bridge's limit, takes abandoned sessions of anyone, the biggest holder's first", () => {
    const sessions = [
      session('a1', 'a', 1, { streams: 0 }),
      session('b1', 'b', 1, { streams: 0 }),
      session('b2', 'b', 2),
      session('c1', 'c', 1),
    ];
    expect(makeRoom(sessions, 'd', limits, NOW)).toEqual({ ok: true, evict: 'b1' });
  });

  it("never closes a live session of a principal within its share for someone else's", () => {
    const sessions = [
      session('a1', 'a', 600),
      session('b1', 'b', 600),
      session('c1', 'c', 600),
      session('c2', 'c', 5),
    ];
    // c holds two (more than d would after opening one), idle ones of c may go; a's and b's may not.
    expect(makeRoom(sessions, 'd', limits, NOW)).toEqual({ ok: true, evict: 'c1' });
    const even = [
      session('a1', 'a', 600),
      session('b1', 'b', 600),
      session('c1', 'c', 600),
      session('e1', 'e', 600),
    ];
    expect(makeRoom(even, 'd', limits, NOW)).toEqual({ ok: false, limit: 'total' });
    // Its own idle session, though, it may give up.
    const own = [
      session('d1', 'd', 600),
      session('b1', 'b', 600),
      session('c1', 'c', 600),
      session('e1', 'e', 600),
    ];
    expect(makeRoom(own, 'd', limits, NOW)).toEqual({ ok: true, evict: 'd1' });
  });
});
