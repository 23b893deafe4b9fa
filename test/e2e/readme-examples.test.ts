/**
 * Every ```python block of README.md and of the pages in docs/ runs as written, through a real bridge,
 * against the three reference servers (everything, memory, filesystem), in each sandbox this machine has. A block whose
 * first line is `# run_python(code=..., servers=[...])` is granted those servers; a block opened with
 * ```python no-run is not run. The filesystem server serves a directory holding `hello.txt` and
 * `todo.md`.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBridge, startBridge } from '../helpers/bridge.js';
import { containerSupport } from '../helpers/environment.js';
import { createTestHome, standardServers, type TestHome } from '../helpers/upstreams.js';

/** A cold embedded start builds the snapshot meanwhile; on two busy cores that takes a while. */
const COLD_START_MS = 240_000;

interface Example {
  /** Where the block is, `README.md:12` (the 1-based line of its opening fence), for messages. */
  where: string;
  code: string;
  servers: string[];
  run: boolean;
}

const REPO = new URL('../../', import.meta.url);
/** The pages whose examples run: the README, then docs/ in name order. */
const PAGES = [
  'README.md',
  ...readdirSync(new URL('docs/', REPO))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
];

function pythonExamples(page: string, markdown: string): Example[] {
  const examples: Example[] = [];
  const fence = /^```python([^\n]*)\n([\s\S]*?)^```[ \t]*$/gm;
  for (const match of markdown.matchAll(fence)) {
    const info = match[1]?.trim() ?? '';
    const code = match[2] ?? '';
    const grant = /^#\s*run_python\(.*\bservers=\[([^\]]*)\]/.exec(code.split('\n', 1)[0] ?? '');
    const servers = grant ? [...(grant[1] ?? '').matchAll(/["']([^"']+)["']/g)].map((m) => m[1] ?? '') : [];
    examples.push({
      where: `${page}:${markdown.slice(0, match.index).split('\n').length}`,
      code,
      servers,
      run: !info.split(/\s+/).includes('no-run'),
    });
  }
  return examples;
}

const examplesByPage = PAGES.map(
  (page) => [page, pythonExamples(page, readFileSync(new URL(page, REPO), 'utf8'))] as const,
);
const examples = examplesByPage.flatMap(([, found]) => found);
const runnable = examples.filter((example) => example.run);
const skipped = examples.length - runnable.length;

it(`README.md and docs/ have ${examples.length} python blocks: ${runnable.length} run, ${skipped} marked no-run`, () => {
  const readme = examplesByPage.find(([page]) => page === 'README.md')?.[1] ?? [];
  expect(readme.filter((example) => example.run).length).toBeGreaterThan(0);
  expect(runnable.length).toBeGreaterThan(readme.length);
});

const { skipReason } = containerSupport();
const backends: Array<[string, Record<string, string>]> = [
  ...(skipReason ? [] : ([['container', {}]] as Array<[string, Record<string, string>]>)),
  ['embedded', { MCP_BRIDGE_RUNTIME: 'embedded' }],
];

describe.each(backends)('documentation python examples in the %s sandbox', (_backend, backendEnv) => {
  let home: TestHome;
  let stateDir: string;
  let bridge: RunningBridge;

  beforeAll(async () => {
    home = createTestHome();
    const servers = standardServers(home.home, 'readme-secret-value');
    writeFileSync(join(home.home, 'files', 'todo.md'), '# things to do\n');
    home.write('.claude.json', { mcpServers: servers });
    stateDir = mkdtempSync(join(tmpdir(), 'codemode-readme-state-'));
    bridge = await startBridge(
      { HOME: home.home, MCP_BRIDGE_STATE_DIR: stateDir, ...backendEnv },
      { cwd: home.project },
    );
    // An embedded bridge's first run starts cold while its snapshot is built.
    expect((await bridge.runPython({ code: 'print("warm")', timeout: 120 })).text).toBe('warm');
  }, COLD_START_MS);
  afterAll(async () => {
    await bridge?.close();
    home?.cleanup();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it.each(runnable.map((example) => [example.where, example] as const))(
    'runs the block at %s',
    async (_where, example) => {
      const result = await bridge.runPython({ code: example.code, servers: example.servers, timeout: 60 });
      expect(result.structured.status, result.text).toBe('ok');
    },
  );
});
