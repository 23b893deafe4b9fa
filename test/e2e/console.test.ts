/**
 * The web console in Debian's headless Chromium (driven by playwright-core with the system binary)
 * against a real `serve --http` with a token and the reference `everything` server: sign-in, a run
 * from an MCP client appearing live with its tool-call timeline, catalog search, "try it", and
 * screenshots under test-artifacts/console/.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HttpBridge, runPython, startHttpBridge, textOf } from '../helpers/http-bridge.js';
import { systemBinarySkipReason } from '../helpers/system-binaries.js';
import { serverEntry } from '../helpers/upstreams.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'console-token-0123456789abc';
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/console/', import.meta.url));
const skip = systemBinarySkipReason(CHROMIUM, 'chromium');

describe.skipIf(skip !== undefined)(
  `console in headless Chromium${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let dir: string;
    let bridge: HttpBridge;
    let client: Client;
    let browser: Browser;
    let page: Page;

    beforeAll(async () => {
      mkdirSync(ARTIFACTS, { recursive: true });
      dir = mkdtempSync(join(tmpdir(), 'codemode-console-'));
      const config = join(dir, 'mcp.json');
      writeFileSync(
        config,
        JSON.stringify({
          mcpServers: {
            everything: {
              command: process.execPath,
              args: [serverEntry('server-everything')],
              env: { SECRET_API_KEY: 'do-not-show-this-secret' },
            },
          },
        }),
      );
      bridge = await startHttpBridge(
        ['serve', '--http', '0'],
        { HOME: dir, MCP_BRIDGE_CONFIG: config, MCP_BRIDGE_HTTP_TOKEN: TOKEN },
        { cwd: dir },
      );
      client = await bridge.connect({ token: TOKEN, name: 'console-test-client' });
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
      page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    }, 90_000);

    afterAll(async () => {
      await browser?.close();
      await client?.close();
      await bridge?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('asks for the token, refuses a wrong one, and loads once signed in', async () => {
      const api = await fetch(`${bridge.base}/console/api/runs`);
      expect(api.status).toBe(401);
      await page.goto(`${bridge.base}/console`);
      await page.fill('input[name=token]', 'not-the-token-at-all');
      await page.click('button[type=submit]');
      await page.waitForSelector('[role=alert]');
      await page.screenshot({ path: join(ARTIFACTS, '01-sign-in-refused.png') });
      await page.fill('input[name=token]', TOKEN);
      await page.click('button[type=submit]');
      await page.waitForSelector('body[data-ready=true]', { timeout: 30_000 });
      await page.locator('#live', { hasText: /^live$/ }).waitFor();
      expect(await page.textContent('#servers')).toContain('everything');
      const html = await page.content();
      expect(html).not.toContain('do-not-show-this-secret');
      expect(html).not.toContain(TOKEN);
      await page.screenshot({ path: join(ARTIFACTS, '02-console.png'), fullPage: true });
    }, 60_000);

    it('shows a run from an MCP client live, with its tool calls', async () => {
      const result = await runPython(client, {
        code: 'r = await mcp_everything.echo(message="seen in the console")\nprint(r)',
        servers: ['everything'],
        timeout: 90,
      });
      expect(textOf(result)).toContain('seen in the console');
      const run = page.locator('#runs li[data-status=ok]', { hasText: 'everything.echo' }).first();
      await run.waitFor({ timeout: 30_000 });
      await run.locator('summary').click();
      expect(await run.locator('pre.code').textContent()).toContain('mcp_everything.echo');
      expect(await run.locator('pre.stdout').textContent()).toContain('seen in the console');
      expect(await run.locator('.timeline').textContent()).toMatch(/everything\.echo — ok in [\d.]+ ms/);
      await page.screenshot({ path: join(ARTIFACTS, '03-live-run.png'), fullPage: true });
    }, 120_000);

    it('searches the catalog with the ranking of search_tool_docs and shows Python signatures', async () => {
      await page.fill('#search', 'echo a message back');
      await page.click('#search-form button');
      await page.waitForSelector('#hits li.hit');
      const first = await page.locator('#hits li.hit').first().textContent();
      expect(first).toContain('everything.echo');
      expect(first).toContain('mcp_everything.echo(message: str)');
      // The same query through search_tool_docs in a run ranks the same tool first.
      const ranked = await runPython(client, {
        code: 'import mcp.runtime as rt\nhits = await rt.search_tool_docs("echo a message back", limit=3)\nprint(hits[0])',
        timeout: 90,
      });
      expect(textOf(ranked)).toContain("'echo'");
      await page.screenshot({ path: join(ARTIFACTS, '04-search.png'), fullPage: true });
    }, 120_000);

    it('runs code from the "try it" box', async () => {
      await page.fill('#code', 'print(sum(range(10)))');
      await page.click('#try-run');
      // A locator, not a page function: the console's CSP forbids evaluating strings.
      await page.locator('#try-result', { hasText: /^ok/ }).waitFor({ timeout: 90_000 });
      expect(await page.textContent('#try-result')).toContain('45');
      await page.screenshot({ path: join(ARTIFACTS, '05-try-it.png'), fullPage: true });
    }, 120_000);
  },
);
