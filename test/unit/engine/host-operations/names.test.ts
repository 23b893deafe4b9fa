/**
 * The operations the sandboxes send are exactly the ones the host offers: every name the Python
 * runtime (runtime/python), the TypeScript runtime (runtime/typescript) and the Monty tier's surface
 * (src/sandbox/monty) send is in the bridge's table, and every operation in the table has a Python
 * caller. Read from their source, so a renamed or new operation on either side fails here, not in a
 * user's program.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { discoveryOperations } from '../../../../src/engine/host-operations/discovery.js';
import { skillOperations } from '../../../../src/engine/host-operations/skills.js';
import { SkillNamespaces } from '../../../../src/engine/skills/skill-namespaces.js';
import { scriptedEngine, scriptedUpstreams } from '../../../helpers/scripted-engine.js';

const RUNTIME = fileURLToPath(new URL('../../../../runtime/', import.meta.url));
const MONTY = fileURLToPath(new URL('../../../../src/sandbox/monty/', import.meta.url));

function filesUnder(dir: string, extension: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith(extension))
    .map((name) => join(dir, name));
}

/**
 * The operation names sent by the files: the first argument of every call of `senders` (which must be
 * a string literal: a name computed at run time could not be checked), and every literal `"op"` of a
 * frame built by hand.
 */
function sentOperations(files: string[], senders: RegExp, definition: RegExp): Set<string> {
  const names = new Set<string>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const call of text.matchAll(senders)) {
      const start = call.index + call[0].length;
      const line = text.slice(0, call.index).split('\n').length;
      if (definition.test(text.slice(text.lastIndexOf('\n', call.index) + 1, start))) continue;
      const literal = /^\s*["']([a-z_]+)["']/.exec(text.slice(start));
      if (!literal?.[1])
        throw new Error(`${file}:${line}: a host operation named by something other than a literal`);
      names.add(literal[1]);
    }
    for (const frame of text.matchAll(/["']op["']\s*:\s*["']([a-z_]+)["']/g)) names.add(frame[1] as string);
  }
  return names;
}

const python = sentOperations(
  filesUnder(join(RUNTIME, 'python'), '.py'),
  /(?<![\w.])_ask\(|\.submit\(/g,
  /^\s*(async\s+)?def\s/,
);
const typescript = sentOperations(
  filesUnder(join(RUNTIME, 'typescript'), '.js'),
  /(?<![\w.])callHost\(/g,
  /^\s*function\s/,
);
// The Monty surface answers a helper with a `host` action that names its operation.
const monty = sentOperations(filesUnder(MONTY, '.ts'), /kind: 'host',\s*op:/g, /^\s*kind: 'host';/);

const stateDir = mkdtempSync(join(tmpdir(), 'codemode-op-names-'));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

/** The table a serving bridge has: the engine's own operations and those the composition root adds. */
function servedOperations(): readonly string[] {
  const skills = new SkillNamespaces(join(stateDir, 'skills'));
  const upstreams = scriptedUpstreams();
  const { engine } = scriptedEngine(async () => ({ kind: 'done', ok: true }), {
    upstreams,
    hostOperations: [...discoveryOperations(upstreams, skills), ...skillOperations(skills)],
  });
  return engine.hostOperationNames;
}

describe('host operation names', () => {
  it('found the call sites in both runtimes', () => {
    expect(python.size).toBeGreaterThan(10);
    expect([...typescript].sort()).toEqual([
      'delete_value',
      'describe_server',
      'list_sessions',
      'list_values',
      'load_value',
      'read_output',
      'reset_session',
      'save_value',
      'search_tool_docs',
    ]);
    expect([...monty].sort()).toEqual(['describe_server', 'search_tool_docs']);
  });

  it('the Python runtime sends exactly the operations the bridge serves', () => {
    expect([...python].sort()).toEqual(servedOperations());
  });

  it('the TypeScript runtime and the Monty tier send only operations the bridge serves', () => {
    expect(servedOperations()).toEqual(expect.arrayContaining([...typescript, ...monty]));
  });
});
