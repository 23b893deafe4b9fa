/**
 * Issue 28's differential test: every program of the corpus (test/fixtures/monty-corpus.ts) runs on
 * the Monty tier (MCP_BRIDGE_RUNTIME=monty) and on CPython in a container (podman), through two real
 * bridges with the same upstreams. For every program the tier accepts, stdout, status and the error's
 * type must be the same; a program the tier refuses (before it runs, or at run time for want of
 * something only full Python has) is counted with its reason: that is the share-of-programs table
 * docs/performance.md reports, printed here.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpus, corpusFiles } from '../fixtures/monty-corpus.js';
import { type RunningBridge, type RunResult, startBridge } from '../helpers/bridge.js';
import { containerSupport } from '../helpers/environment.js';
import { createTestHome, serverEntry, type TestHome } from '../helpers/upstreams.js';

const skip = containerSupport().skipReason;

/** The refusal texts of the tier: before it runs (the checker, Monty's parser) or at run time. */
const STATIC_REFUSAL = /This program needs full Python|^A session|monty syntax parser/;
const RUNTIME_REFUSAL = /This needs full Python/;

function errorType(result: RunResult): string {
  const error = result.structured.error ?? '';
  const head = /^([\w.]+)(?::|$)/.exec(error)?.[1] ?? error.slice(0, 40);
  return head.split('.').at(-1) ?? head;
}

describe.skipIf(skip)('the Monty tier against CPython, program by program', () => {
  let home: TestHome;
  let monty: RunningBridge;
  let cpython: RunningBridge;
  let root: string;

  beforeAll(async () => {
    home = createTestHome();
    root = join(home.home, 'files');
    for (const [path, content] of Object.entries(corpusFiles)) {
      mkdirSync(join(root, path, '..'), { recursive: true });
      writeFileSync(join(root, path), content);
    }
    const config = (memory: string) =>
      home.write(`${memory}.json`, {
        mcpServers: {
          everything: { command: process.execPath, args: [serverEntry('server-everything')] },
          memory: {
            command: process.execPath,
            args: [serverEntry('server-memory')],
            env: { MEMORY_FILE_PATH: join(home.home, `${memory}.jsonl`) },
          },
          filesystem: { command: process.execPath, args: [serverEntry('server-filesystem'), root] },
        },
      });
    const common = { HOME: home.home, MCP_BRIDGE_STATE_DIR: join(home.home, 'state') };
    [monty, cpython] = await Promise.all([
      startBridge({ ...common, MCP_BRIDGE_CONFIG: config('memory-monty'), MCP_BRIDGE_RUNTIME: 'monty' }),
      startBridge({ ...common, MCP_BRIDGE_CONFIG: config('memory-cpython'), MCP_BRIDGE_RUNTIME: 'podman' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([monty?.close(), cpython?.close()]);
    home?.cleanup();
  });

  it('gives the same stdout, status and error type for every program it accepts', async () => {
    const accepted: string[] = [];
    const refused: Array<{ id: string; origin: string; when: string; reason: string }> = [];
    const divergences: string[] = [];
    for (const program of corpus) {
      const code = program.code.replaceAll('ROOT', JSON.stringify(root));
      const args = { code, ...(program.servers ? { servers: program.servers } : {}) };
      const onMonty = await monty.runPython(args);
      const error = onMonty.structured.error ?? '';
      if (STATIC_REFUSAL.test(error) || RUNTIME_REFUSAL.test(error)) {
        refused.push({
          id: program.id,
          origin: program.origin,
          when: /monty syntax parser/.test(error)
            ? "before it runs (Monty's parser)"
            : STATIC_REFUSAL.test(error)
              ? 'before it runs'
              : 'at run time',
          reason: error.split(/\. This (?:program )?needs full Python|\n\(/)[0] ?? error,
        });
        continue;
      }
      accepted.push(program.id);
      expect(onMonty.structured.sandbox, program.id).toBe('monty');
      const onCpython = await cpython.runPython(args);
      const same =
        onMonty.structured.status === onCpython.structured.status &&
        onMonty.structured.stdout === onCpython.structured.stdout &&
        errorType(onMonty) === errorType(onCpython);
      if (!same) {
        divergences.push(
          `${program.id}:\n  monty   ${JSON.stringify([onMonty.structured.status, onMonty.structured.stdout, onMonty.structured.error])}` +
            `\n  cpython ${JSON.stringify([onCpython.structured.status, onCpython.structured.stdout, onCpython.structured.error])}`,
        );
      }
    }
    const byOrigin = new Map<string, { total: number; accepted: number }>();
    for (const program of corpus) {
      const entry = byOrigin.get(program.origin) ?? { total: 0, accepted: 0 };
      entry.total++;
      if (accepted.includes(program.id)) entry.accepted++;
      byOrigin.set(program.origin, entry);
    }
    console.log(
      `Monty tier: ${accepted.length} of ${corpus.length} programs (${Math.round((100 * accepted.length) / corpus.length)}%)\n` +
        [...byOrigin].map(([origin, { total, accepted: n }]) => `  ${origin}: ${n} of ${total}`).join('\n') +
        '\nTo full Python:\n' +
        refused.map((entry) => `  ${entry.id} (${entry.origin}, ${entry.when}): ${entry.reason}`).join('\n'),
    );
    expect(divergences).toEqual([]);
    expect(accepted.length).toBeGreaterThan(corpus.length / 2);
  }, 900_000);
});
