/**
 * README's "Set up" and "Register it with your MCP client", done as a new user does them: a fresh
 * clone of this repository (its committed HEAD), `npm ci`, then an MCP client that starts
 * `node /ABS/PATH/dist/cli/main.js` from somewhere else; and the packed tarball installed into another
 * project (what `npx --package <tarball>` and `npm install -g <tarball>` do). The package is not on the
 * npm registry, so nothing here may name it there. Dependencies come from the npm cache when it has
 * them (CI's `npm ci` fills it), else from the registry.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_IMAGE } from '../helpers/environment.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const INSTALL_TIMEOUT_MS = 600_000;
const NPM_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund'];

function gitCheckoutProblem(): string | undefined {
  try {
    execFileSync('git', ['-C', REPO, 'rev-parse', '--verify', 'HEAD'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'not a git checkout with a commit (or no git): nothing to clone';
  }
}
const skipReason = gitCheckoutProblem();
if (skipReason && process.env.CI) throw new Error(`the getting-started test cannot run in CI: ${skipReason}`);

/** Starts an MCP client on `command args`, as a client config would, and runs one program. */
async function runThroughMcp(
  server: { command: string; args: string[]; cwd: string; env: Record<string, string> },
  call: { code: string; servers?: string[]; timeout?: number; yield_after?: number },
): Promise<{ text: string; isError: boolean }> {
  const transport = new StdioClientTransport({ ...server, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client({ name: 'getting-started', version: '0.0.0' });
  try {
    await client.connect(transport);
    const result = (await client.callTool({ name: 'run_python', arguments: call }, undefined, {
      timeout: 180_000,
    })) as CallToolResult;
    const first = result.content[0];
    return { text: first?.type === 'text' ? first.text : '', isError: result.isError === true };
  } catch (error) {
    throw new Error(`${(error as Error).message}\nbridge stderr:\n${stderr}`);
  } finally {
    await client.close().catch(() => {});
  }
}

describe.skipIf(skipReason)(
  `getting started from a clone${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let root: string;
    let clone: string;
    let home: string;
    let elsewhere: string;

    beforeAll(async () => {
      root = mkdtempSync(join(tmpdir(), 'codemode-getting-started-'));
      clone = join(root, 'codemode-bridge');
      home = join(root, 'home');
      elsewhere = join(root, 'elsewhere');
      mkdirSync(elsewhere);
      // README: "Set up".
      await run('git', ['clone', '--quiet', REPO, clone]);
      await run('npm', ['ci', ...NPM_FLAGS], { cwd: clone, timeout: INSTALL_TIMEOUT_MS });
      // A server in the reference bridge's ~/MCPs, so the run also reaches an upstream through the clone.
      mkdirSync(join(home, 'MCPs'), { recursive: true });
      writeFileSync(
        join(home, 'MCPs', 'everything.json'),
        JSON.stringify({
          mcpServers: {
            everything: {
              command: 'node',
              args: [join(clone, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js')],
            },
          },
        }),
      );
    }, INSTALL_TIMEOUT_MS);
    afterAll(() => {
      if (root) rmSync(root, { recursive: true, force: true });
    });

    const env = (extra: Record<string, string> = {}) => ({
      ...getDefaultEnvironment(),
      HOME: home,
      MCP_BRIDGE_IMAGE: TEST_IMAGE,
      MCP_BRIDGE_STATE_DIR: join(root, 'state'),
      ...extra,
    });

    it('serves MCP as `node /ABS/PATH/dist/cli/main.js`, started from another directory', async () => {
      // The JSON snippet: "command": "node", "args": ["/ABS/PATH/dist/cli/main.js"].
      const result = await runThroughMcp(
        { command: 'node', args: [join(clone, 'dist/cli/main.js')], cwd: elsewhere, env: env() },
        { code: 'print(6*7)\nawait mcp_everything.get_sum(a=2, b=3)', servers: ['everything'], timeout: 120 },
      );
      expect(result).toEqual({ text: "42\n'The sum of 2 and 3 is 5.'", isError: false });
    });

    it(
      'serves MCP from the packed tarball installed elsewhere, with the embedded sandbox',
      async () => {
        // README: `npm pack` in the clone (npm ci has built dist/ already, so its prepare step is skipped here).
        const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', root], {
          cwd: clone,
        });
        const tarball = join(root, stdout.trim().split('\n').at(-1) ?? '');
        expect(tarball).toMatch(/codemode-bridge-\d+\.\d+\.\d+\.tgz$/);
        const project = join(root, 'project');
        mkdirSync(project);
        writeFileSync(join(project, 'package.json'), '{ "private": true }\n');
        await run('npm', ['install', ...NPM_FLAGS, tarball], { cwd: project, timeout: INSTALL_TIMEOUT_MS });
        // The bin that `npx --package <tarball> codemode-bridge` and `npm install -g <tarball>` run.
        const result = await runThroughMcp(
          {
            command: join(project, 'node_modules/.bin/codemode-bridge'),
            args: [],
            cwd: elsewhere,
            env: env({ MCP_BRIDGE_RUNTIME: 'embedded' }),
          },
          // The first embedded run starts cold while the snapshot is built: on a loaded machine that can
          // pass the default yield point (20 s), so this call asks for the result, not a wait handle.
          { code: 'print(6*7)', timeout: 120, yield_after: 0 },
        );
        expect(result).toEqual({ text: '42', isError: false });
        // `serve --http` reads the console's files from the package at run time.
        for (const file of ['console.html', 'console.css', 'console.js']) {
          expect(
            existsSync(join(project, 'node_modules/codemode-bridge/dist/server/console/assets', file)),
          ).toBe(true);
        }
      },
      INSTALL_TIMEOUT_MS,
    );
  },
);
