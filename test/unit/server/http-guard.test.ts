import { describe, expect, it } from 'vitest';
import {
  bearerToken,
  cookieValue,
  hostAllowed,
  isLoopbackHost,
  originAllowed,
  tokenMatches,
} from '../../../src/server/http/http-guard.js';

describe('http guard', () => {
  it('knows loopback names and addresses', () => {
    for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]', 'app.localhost']) {
      expect(isLoopbackHost(host), host).toBe(true);
    }
    for (const host of ['0.0.0.0', '::', '192.168.1.2', 'example.com', '127.0.0.1.example.com']) {
      expect(isLoopbackHost(host), host).toBe(false);
    }
  });

  it('compares tokens exactly', () => {
    expect(tokenMatches('abc', 'abc')).toBe(true);
    expect(tokenMatches('abcd', 'abc')).toBe(false);
    expect(tokenMatches(undefined, 'abc')).toBe(false);
    expect(bearerToken('Bearer xyz')).toBe('xyz');
    expect(bearerToken('bearer  xyz ')).toBe('xyz');
    expect(bearerToken('Basic xyz')).toBeUndefined();
    expect(cookieValue('a=1; codemode_console=ff%20; b=2', 'codemode_console')).toBe('ff ');
  });

  it('allows no Origin, its own loopback origin and configured ones only', () => {
    const policy = { port: 8377, allowed: ['https://bridge.example.com'] };
    expect(originAllowed(undefined, policy)).toBe(true);
    expect(originAllowed('http://localhost:8377', policy)).toBe(true);
    expect(originAllowed('http://127.0.0.1:8377', policy)).toBe(true);
    expect(originAllowed('https://bridge.example.com', policy)).toBe(true);
    expect(originAllowed('http://localhost:8378', policy)).toBe(false);
    expect(originAllowed('http://evil.example', policy)).toBe(false);
    expect(originAllowed('null', policy)).toBe(false);
    expect(originAllowed('https://bridge.example.com.evil.example', policy)).toBe(false);
  });

  it('checks the Host only when no token is required (DNS rebinding)', () => {
    expect(hostAllowed('localhost:8377', false)).toBe(true);
    expect(hostAllowed('[::1]:8377', false)).toBe(true);
    expect(hostAllowed('rebound.example:8377', false)).toBe(false);
    expect(hostAllowed(undefined, false)).toBe(false);
    expect(hostAllowed('bridge.example.com', true)).toBe(true);
  });
});
