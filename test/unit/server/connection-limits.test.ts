import { describe, expect, it } from 'vitest';
import { ConnectionLimits, clientKey } from '../../../src/server/http/connection-limits.js';

describe('connection limits', () => {
  it('count every loopback address as one client, IPv4 by address and IPv6 by /64', () => {
    for (const address of [
      '127.0.0.1',
      '127.0.0.2',
      '127.255.0.9',
      '::1',
      '::ffff:127.0.0.1',
      '0:0:0:0:0:0:0:1',
    ]) {
      expect(clientKey(address), address).toBe('loopback');
    }
    expect(clientKey('192.168.1.20')).toBe('192.168.1.20');
    expect(clientKey('::ffff:192.168.1.20')).toBe('192.168.1.20');
    expect(clientKey('2001:db8:0:1::5')).toBe('2001:db8:0:1::/64');
    expect(clientKey('2001:db8:0:1:ffff:ffff:ffff:ffff')).toBe('2001:db8:0:1::/64');
    expect(clientKey('2001:DB8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(clientKey('::ffff:c0a8:114')).toBe('0:0:0:0::/64');
    expect(clientKey(undefined)).toBe('unknown');
  });

  it('admit connections up to the caps and take them back once released', () => {
    const limits = new ConnectionLimits({ maxPerClient: 2, maxTotal: 3 });
    const first = limits.admit('127.0.0.1');
    const second = limits.admit('127.0.0.5');
    expect(limits.admit('::1')).toEqual({ refused: { limit: 'per-client', client: 'loopback' } });
    const third = limits.admit('10.0.0.1');
    expect(limits.admit('10.0.0.2')).toEqual({ refused: { limit: 'total' } });
    expect(limits.total).toBe(3);
    if (!('release' in first) || !('release' in second) || !('release' in third)) throw new Error('refused');
    first.release();
    first.release(); // once only
    expect(limits.total).toBe(2);
    expect('release' in limits.admit('127.0.0.1')).toBe(true);
    second.release();
    third.release();
    expect(limits.total).toBe(1);
  });
});
