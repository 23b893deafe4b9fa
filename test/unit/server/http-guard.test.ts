import { describe, expect, it } from 'vitest';
import {
  bearerToken,
  cookieValue,
  fetchSiteAllowed,
  hostAllowed,
  isJsonContentType,
  isLoopbackHost,
  originAllowed,
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

  it('reads bearer tokens and cookies', () => {
    expect(bearerToken('Bearer xyz')).toBe('xyz');
    expect(bearerToken('bearer  xyz ')).toBe('xyz');
    expect(bearerToken('Basic xyz')).toBeUndefined();
    expect(cookieValue('a=1; codemode_console=ff%20; b=2', 'codemode_console')).toBe('ff ');
  });

  it('lets another site start nothing but a navigation to a page', () => {
    const request = (site: string | undefined, mode = 'cors', method = 'GET') => ({ site, mode, method });
    // MCP clients and curl send no Sec-Fetch-Site; this origin, a typed address, a configured origin pass.
    expect(fetchSiteAllowed(request(undefined), false, false)).toBe(true);
    expect(fetchSiteAllowed(request('same-origin'), false, false)).toBe(true);
    expect(fetchSiteAllowed(request('none', 'navigate'), false, false)).toBe(true);
    expect(fetchSiteAllowed(request('cross-site', 'cors', 'POST'), false, true)).toBe(true);
    // An <img> or a no-cors fetch of the console's search from another site, or another port of localhost.
    expect(fetchSiteAllowed(request('cross-site', 'no-cors'), false, false)).toBe(false);
    expect(fetchSiteAllowed(request('same-site', 'no-cors'), false, false)).toBe(false);
    // A cross-site form post, even to a page.
    expect(fetchSiteAllowed(request('cross-site', 'navigate', 'POST'), true, false)).toBe(false);
    // A link to the console page itself.
    expect(fetchSiteAllowed(request('cross-site', 'navigate'), true, false)).toBe(true);
    expect(fetchSiteAllowed(request('cross-site', 'navigate'), false, false)).toBe(false);
  });

  it('knows a JSON content type', () => {
    expect(isJsonContentType('application/json')).toBe(true);
    expect(isJsonContentType('Application/JSON; charset=utf-8')).toBe(true);
    expect(isJsonContentType('text/plain')).toBe(false);
    expect(isJsonContentType('application/jsonx')).toBe(false);
    expect(isJsonContentType(undefined)).toBe(false);
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
