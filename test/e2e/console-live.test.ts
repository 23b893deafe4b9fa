/**
 * The console people keep open, in Debian's headless Chromium (playwright-core with the system
 * binary) against a real `serve --http` with a tokens file (alice an admin, bob a user), a policy, the
 * reference `everything` server (with a secret in its environment) and the `shapes` fixture: live
 * output before a run ends, filters, a permalink, cancel (admin only), arguments redacted as in the
 * audit log, each call's policy, few requests for a 500-call run, an honest disconnected state, and
 * runs kept across a restart. Screenshots at 1280×800 and 390×844 go under test-artifacts/console-live/.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BRIDGE_MAIN } from '../helpers/environment.js';
import {
  type HttpBridge,
  runPython,
  startHttpBridge,
  textOf,
  writeTokensFile,
} from '../helpers/http-bridge.js';
import { systemBinarySkipReason } from '../helpers/system-binaries.js';
import { serverEntry } from '../helpers/upstreams.js';

const CHROMIUM = '/usr/bin/chromium';
const ALICE = 'alice-admin-token-0123456789';
const BOB = 'bob-user-token-0123456789abc';
const SECRET = 'do-not-show-this-secret';
const SHAPES = fileURLToPath(new URL('../fixtures/shapes-server.mjs', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/console-live/', import.meta.url));
const DESKTOP = { width: 1280, height: 800 };
const NARROW = { width: 390, height: 844 };
const skip = systemBinarySkipReason(CHROMIUM, 'chromium');

describe.skipIf(skip !== undefined)(
  `the console people keep open, in headless Chromium${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let dir: string;
    let env: Record<string, string>;
    let bridge: HttpBridge;
    let alice: Client;
    let bob: Client;
    let browser: Browser;
    let adminContext: BrowserContext;
    let admin: Page;
    let userContext: BrowserContext;
    let user: Page;

    const signIn = async (page: Page, token: string) => {
      await page.goto(`${bridge.base}/console`);
      await page.fill('input[name=token]', token);
      await page.click('button[type=submit]');
      await page.waitForSelector('body[data-ready=true]', { timeout: 30_000 });
      await page.locator('#live', { hasText: /^live$/ }).waitFor({ timeout: 30_000 });
    };
    const shot = (page: Page, name: string) =>
      page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
    const run = (page: Page, text: string | RegExp) =>
      page.locator('#runs li.run', { hasText: text }).first();

    beforeAll(async () => {
      mkdirSync(ARTIFACTS, { recursive: true });
      dir = mkdtempSync(join(tmpdir(), 'codemode-console-live-'));
      const config = join(dir, 'mcp.json');
      writeFileSync(
        config,
        JSON.stringify({
          mcpServers: {
            everything: {
              command: process.execPath,
              args: [serverEntry('server-everything')],
              env: { SECRET_API_KEY: SECRET },
            },
            shapes: { command: process.execPath, args: [SHAPES] },
          },
        }),
      );
      const policy = join(dir, 'policy.json');
      writeFileSync(policy, JSON.stringify({ default: 'allow', servers: { shapes: { deny: ['fail'] } } }));
      env = {
        HOME: dir,
        MCP_BRIDGE_CONFIG: config,
        MCP_BRIDGE_POLICY: policy,
        MCP_BRIDGE_STATE_DIR: join(dir, 'state'),
        MCP_BRIDGE_HTTP_TOKENS_FILE: writeTokensFile(dir, [
          { name: 'alice', role: 'admin', token: ALICE },
          { name: 'bob', role: 'user', token: BOB },
        ]),
      };
      bridge = await startHttpBridge(['serve', '--http', '0'], env, { cwd: dir });
      alice = await bridge.connect({ token: ALICE, name: 'alice-client' });
      bob = await bridge.connect({ token: BOB, name: 'bob-client' });
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
      adminContext = await browser.newContext({ viewport: DESKTOP });
      admin = await adminContext.newPage();
      userContext = await browser.newContext({ viewport: NARROW });
      user = await userContext.newPage();
      // A script error is a failure to report, not a timeout to guess at.
      for (const page of [admin, user]) page.on('pageerror', (error) => console.error('page error:', error));
      await signIn(admin, ALICE);
      await signIn(user, BOB);
      // Warm-up: the first sandbox of a fresh state directory starts slowly (its snapshot is built).
      await runPython(alice, { code: 'print("warm")', timeout: 300 });
    }, 400_000);

    afterAll(async () => {
      await browser?.close();
      await alice?.close().catch(() => {});
      await bob?.close().catch(() => {});
      await bridge?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('shows output live, before the run ends', async () => {
      const going = runPython(alice, {
        code: 'import asyncio\nprint("first line, early", flush=True)\nawait asyncio.sleep(10)\nprint("last line")',
        timeout: 90,
      });
      const live = admin.locator('#runs li[data-status=running] pre.stdout', {
        hasText: 'first line, early',
      });
      await live.waitFor({ state: 'attached', timeout: 90_000 });
      expect(await live.textContent()).not.toContain('last line');
      await live.locator('xpath=ancestor::details').locator('summary').click();
      await shot(admin, '01-live-output-desktop');
      expect(textOf(await going)).toContain('last line');
      await admin
        .locator('#runs li[data-status=ok] pre.stdout', { hasText: 'last line' })
        .waitFor({ state: 'attached', timeout: 30_000 });
    }, 200_000);

    it('shows arguments and results redacted as in the audit log, and each call’s policy', async () => {
      const result = await runPython(alice, {
        // The secret reaches the call from elsewhere (here: built at run time), not from the code shown.
        code: `r = await mcp_everything.echo(message="key " + "${SECRET.slice(0, 7)}" + "${SECRET.slice(7)}" + " end")\nprint("echoed")\ntry:\n    await mcp_shapes.fail(n=3)\nexcept Exception as e:\n    print("refused", type(e).__name__)`,
        servers: ['everything', 'shapes'],
        timeout: 90,
      });
      expect(textOf(result)).toContain('refused');
      const item = run(admin, 'everything.echo');
      await item.waitFor({ state: 'attached', timeout: 30_000 });
      await admin
        .locator('#runs li[data-status=ok]', { hasText: 'shapes.fail' })
        .first()
        .waitFor({ state: 'attached' });
      await item.locator('summary').click();
      const echo = item.locator('.timeline li', { hasText: 'everything.echo' });
      expect(await echo.locator('.args').textContent()).toContain('key [redacted] end');
      expect(await echo.locator('.result').textContent()).toContain('[redacted]');
      expect(await echo.locator('.policy').textContent()).toContain('allow');
      const fail = item.locator('.timeline li', { hasText: 'shapes.fail' });
      expect(await fail.textContent()).toMatch(/refused/);
      expect(await fail.locator('.policy').textContent()).toContain('deny');
      expect(await admin.content()).not.toContain(SECRET);
      const api = await admin.request.get(`${bridge.base}/console/api/runs?limit=500`, {
        headers: { 'x-codemode-console': '1' },
      });
      expect(await api.text()).not.toContain(SECRET);
      // The servers' policy column says what the policy decides for their tools.
      await admin.reload();
      await admin.waitForSelector('body[data-ready=true]');
      expect(await admin.textContent('#servers')).toMatch(/deny: fail/);
      await shot(admin, '02-redacted-arguments-desktop');
    }, 120_000);

    it('sends a page few requests for a 500-call run (deltas, not a refetch per event)', async () => {
      let requests = 0;
      const count = () => requests++;
      admin.on('request', count);
      const result = await runPython(alice, {
        code: 'import asyncio\nrs = await asyncio.gather(*(mcp_shapes.quick(n=i) for i in range(500)))\nprint(len(rs), "calls made")',
        servers: ['shapes'],
        timeout: 300,
      });
      expect(textOf(result)).toContain('500 calls made');
      const item = admin.locator('#runs li[data-status=ok]', { hasText: '500 tool call(s)' }).first();
      await item.waitFor({ state: 'attached', timeout: 60_000 });
      await admin.waitForTimeout(500);
      admin.off('request', count);
      writeFileSync(join(ARTIFACTS, 'requests-per-500-call-run.json'), JSON.stringify({ requests }));
      expect(requests, `${requests} requests during a 500-call run`).toBeLessThanOrEqual(20);
      expect(await item.locator('.timeline li').count()).toBe(500);
    }, 400_000);

    it('filters by status, server, session and principal', async () => {
      await runPython(alice, { code: 'raise ValueError("boom for the filter")', timeout: 90 });
      const bobs = await runPython(bob, { code: 'print("bob was here")', timeout: 90 });
      expect(textOf(bobs)).toContain('bob was here');
      await run(admin, 'bob was here').waitFor({ state: 'attached', timeout: 30_000 });
      const all = await admin.locator('#runs li.run').count();

      await admin.selectOption('#filter-status', 'error');
      await expect.poll(() => admin.locator('#runs li.run').count()).toBeLessThan(all);
      expect(await admin.locator('#runs li.run[data-status=error]').count()).toBeGreaterThan(0);
      expect(await admin.locator('#runs li.run:not([data-status=error])').count()).toBe(0);
      expect(admin.url()).toContain('status=error');
      await shot(admin, '03-filter-status-desktop');

      await admin.selectOption('#filter-status', '');
      await admin.selectOption('#filter-server', 'shapes');
      await expect.poll(() => admin.locator('#runs li.run').count()).toBeLessThan(all);
      for (const text of await admin.locator('#runs li.run summary').allTextContents())
        expect(text).toContain('shapes');

      await admin.selectOption('#filter-server', '');
      await admin.selectOption('#filter-principal', 'bob');
      await expect.poll(() => admin.locator('#runs li.run').count()).toBe(1);
      expect(await admin.textContent('#runs')).toContain('bob was here');

      await admin.selectOption('#filter-principal', '');
      const session = (bob as unknown as { transport?: { sessionId?: string } }).transport?.sessionId ?? '';
      expect(session).not.toBe('');
      await admin.fill('#filter-session', session.slice(0, 8));
      await admin.press('#filter-session', 'Enter');
      await admin.locator('#filter-session').blur();
      await expect.poll(() => admin.locator('#runs li.run').count()).toBe(1);
      await admin.fill('#filter-session', '');
      await admin.locator('#filter-session').dispatchEvent('change');
      await expect.poll(() => admin.locator('#runs li.run').count()).toBe(all);

      // A user sees its own runs only, and no principal filter.
      expect(await user.textContent('#runs')).toContain('bob was here');
      expect(await user.textContent('#runs')).not.toContain('boom for the filter');
      expect(await user.locator('#filter-principal-label').isHidden()).toBe(true);
      await shot(user, '04-user-narrow');
    }, 180_000);

    it('opens a run from its permalink', async () => {
      const item = run(admin, 'everything.echo');
      const href = await item.locator('a.permalink').getAttribute('href');
      expect(href).toMatch(/^#run=run-\d+-/);
      const page = await adminContext.newPage();
      await page.goto(`${bridge.base}/console${href}`);
      const linked = page.locator('#runs li.run.linked');
      await linked.waitFor({ timeout: 30_000 });
      expect(await linked.locator('details').getAttribute('open')).not.toBeNull();
      expect(await linked.locator('pre.code').textContent()).toContain('mcp_everything.echo');
      expect(await linked.locator('.timeline').textContent()).toContain('everything.echo');
      await shot(page, '05-permalink-desktop');
      await page.setViewportSize(NARROW);
      await shot(page, '05-permalink-narrow');
      await page.close();
    }, 60_000);

    it('lets an admin cancel a run, and not a user (no button, 403)', async () => {
      const bobs = runPython(bob, {
        code: 'import asyncio\nprint("bob sleeps")\nawait asyncio.sleep(120)',
        timeout: 300,
      });
      const mine = user.locator('#runs li[data-status=running]', { hasText: 'bob sleeps' });
      await mine.waitFor({ state: 'attached', timeout: 30_000 });
      expect(await mine.locator('button.cancel').count()).toBe(0);
      const id = ((await mine.getAttribute('id')) ?? '').replace(/^run-/, '');
      const refused = await user.request.post(`${bridge.base}/console/api/runs/${id}/cancel`, {
        headers: { 'x-codemode-console': '1' },
      });
      expect(refused.status()).toBe(403);
      // Without the console's header, not even an admin's cookie cancels (a cross-site form cannot send it).
      const forged = await admin.request.post(`${bridge.base}/console/api/runs/${id}/cancel`);
      expect(forged.status()).toBe(403);

      const theirs = admin.locator(`#run-${id}`);
      await theirs.locator('summary').click();
      await shot(admin, '06-cancel-button-desktop');
      await theirs.locator('button.cancel').click();
      const result = await bobs;
      expect(textOf(result)).toMatch(/cancelled from the console by alice/);
      await admin
        .locator(`#run-${id}[data-status=cancelled]`)
        .waitFor({ state: 'attached', timeout: 30_000 });
      await user.locator(`#run-${id}[data-status=cancelled]`).waitFor({ state: 'attached', timeout: 30_000 });
    }, 180_000);

    it('says when the bridge is gone, retries, and shows the earlier runs after a restart', async () => {
      const port = new URL(bridge.base).port;
      const before = (await admin.locator('#runs li.run').count()) as number;
      await alice.close().catch(() => {});
      await bob.close().catch(() => {});
      await bridge.stop();
      await admin.locator('#live', { hasText: /disconnected/ }).waitFor({ timeout: 30_000 });
      expect(await admin.getAttribute('body', 'data-connection')).toBe('down');
      await shot(admin, '07-disconnected-desktop');
      await user.locator('#live', { hasText: /disconnected/ }).waitFor({ timeout: 30_000 });
      await shot(user, '07-disconnected-narrow');

      bridge = await startHttpBridge(['serve', '--http', port], env, { cwd: dir });
      // The sign-in was the old process's: the page asks again once the bridge answers.
      await admin.waitForSelector('input[name=token]', { timeout: 60_000 });
      await admin.fill('input[name=token]', ALICE);
      await admin.click('button[type=submit]');
      await admin.waitForSelector('body[data-ready=true]', { timeout: 30_000 });
      await admin.locator('#live', { hasText: /^live$/ }).waitFor({ timeout: 30_000 });
      await expect.poll(() => admin.locator('#runs li.run').count(), { timeout: 30_000 }).toBe(before);
      const echo = run(admin, 'everything.echo');
      await echo.locator('summary').click();
      await echo.locator('.timeline li').first().waitFor({ timeout: 30_000 });
      expect(await echo.locator('.timeline').textContent()).toContain('key [redacted] end');
      expect(await admin.textContent('#state')).toMatch(/kept across restarts/);
      await shot(admin, '08-after-restart-desktop');
    }, 180_000);
  },
);

describe('a console database that cannot be used', () => {
  it('is logged and said by doctor and the console; the bridge serves and runs without keeping runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'codemode-console-corrupt-'));
    const state = join(dir, 'state');
    mkdirSync(join(state, 'console'), { recursive: true });
    writeFileSync(join(state, 'console', 'runs.sqlite'), 'not a database at all\n'.repeat(200));
    const env = { HOME: dir, MCP_BRIDGE_CONFIG: join(dir, 'none.json'), MCP_BRIDGE_STATE_DIR: state };
    writeFileSync(env.MCP_BRIDGE_CONFIG, JSON.stringify({ mcpServers: {} }));
    const bridge = await startHttpBridge(['serve', '--http', '0'], env, { cwd: dir });
    try {
      expect(bridge.stderr()).toMatch(
        /the console keeps no runs across restarts: its database failed.*not a database/,
      );
      const client = await bridge.connect({ name: 'corrupt-db' });
      expect(textOf(await runPython(client, { code: 'print("still runs")', timeout: 300 }))).toContain(
        'still runs',
      );
      await client.close();
      const headers = { 'x-codemode-console': '1' };
      const runs = (await (await fetch(`${bridge.base}/console/api/runs`, { headers })).json()) as {
        runs: Array<{ stdout?: string }>;
        persistent: boolean;
      };
      expect(runs.persistent).toBe(false);
      expect(runs.runs[0]?.stdout).toContain('still runs');
      const state = (await (await fetch(`${bridge.base}/console/api/state`, { headers })).json()) as {
        runs: string;
      };
      expect(state.runs).toMatch(/in memory only: cannot open .*not a database/);
      const doctor = spawnSync(process.execPath, [BRIDGE_MAIN, 'doctor'], {
        env: { ...process.env, ...env, MCP_BRIDGE_RUNTIME: 'embedded' },
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(doctor.stdout).toMatch(/Console runs .*runs\.sqlite cannot be used .*without keeping runs/);
    } finally {
      await bridge.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 400_000);
});
