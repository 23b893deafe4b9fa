/**
 * The table of host operations as a program reaches it (a scripted sandbox's `callHost`, through the
 * engine): names looked up as the table's own, arguments checked by each operation's schema and
 * refused as BAD_ARGUMENTS in one wording (the argument, the offending value or size, the limit).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { discoveryOperations } from '../../../../src/engine/host-operations/discovery.js';
import { HostOperations, hostOperation } from '../../../../src/engine/host-operations/registry.js';
import { skillOperations } from '../../../../src/engine/host-operations/skills.js';
import { RunRecord } from '../../../../src/engine/run-record.js';
import { SkillNamespaces } from '../../../../src/engine/skills/skill-namespaces.js';
import { HostCallError } from '../../../../src/sandbox/types.js';
import { scriptedEngine, scriptedUpstreams } from '../../../helpers/scripted-engine.js';

const stateDir = mkdtempSync(join(tmpdir(), 'codemode-host-ops-'));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

/** Sends each call from one run of a scripted program; each answer as `CODE: message`, or the value. */
async function callAll(calls: ReadonlyArray<readonly [string, Record<string, unknown>]>): Promise<unknown[]> {
  const skills = new SkillNamespaces(join(stateDir, 'skills'));
  const upstreams = scriptedUpstreams();
  const answers: unknown[] = [];
  const { engine } = scriptedEngine(
    async (host, _program, signal) => {
      for (const [op, args] of calls) {
        answers.push(
          await host
            .callHost(op, args, signal)
            .catch((error: HostCallError) => `${error.code}: ${error.message}`),
        );
      }
      return { kind: 'done', ok: true };
    },
    { upstreams, hostOperations: [...discoveryOperations(upstreams, skills), ...skillOperations(skills)] },
  );
  await engine.run({ code: '…' });
  return answers;
}

describe('the host operation table', () => {
  it('names what it offers when asked for an operation it does not have, also one of Object.prototype', async () => {
    const answers = await callAll([
      ['nope', {}],
      ['__proto__', {}],
      ['constructor', {}],
      ['list_servers', {}],
    ]);
    const offered =
      'attach, delete_skill, delete_value, describe_server, list_sessions, list_skills, list_values, ' +
      'load_value, read_output, reset_session, save_skill, save_value, search_tool_docs';
    expect(answers).toEqual([
      `UNKNOWN_OPERATION: unknown host operation 'nope'; the host offers ${offered}`,
      `UNKNOWN_OPERATION: unknown host operation '__proto__'; the host offers ${offered}`,
      `UNKNOWN_OPERATION: unknown host operation 'constructor'; the host offers ${offered}`,
      `UNKNOWN_OPERATION: unknown host operation 'list_servers'; the host offers ${offered}`,
    ]);
  });

  it('refuses bad arguments in one wording: the argument, what is wrong, the offending value or size', async () => {
    const cases: Array<readonly [string, Record<string, unknown>, string]> = [
      ['describe_server', {}, "describe_server: 'name' is missing (a string)"],
      ['describe_server', { name: 42 }, "describe_server: 'name' must be a string, not 42"],
      ['describe_server', { name: '' }, "describe_server: 'name' must not be empty"],
      [
        'describe_server',
        { name: { toString: 1 } },
        "describe_server: 'name' must be a string, not an object",
      ],
      [
        'describe_server',
        { name: 's'.repeat(10_000) },
        "describe_server: 'name' is 10,000 characters; the limit is 256",
      ],
      [
        'search_tool_docs',
        { query: 'q'.repeat(2001) },
        "search_tool_docs: 'query' is 2,001 characters; the limit is 2,000. Describe the task in a sentence or a few keywords.",
      ],
      ['delete_skill', { name: '../x' }, 'delete_skill: "../x" is not a skill name'],
      ['delete_skill', { name: 42 }, 'delete_skill: "42" is not a skill name'],
      ['delete_skill', { name: 'f', version: 0 }, "delete_skill: 'version' must be at least 1, not 0"],
      [
        'delete_skill',
        { name: 'f', version: 1.5 },
        "delete_skill: 'version' must be a whole number, not 1.5",
      ],
      ['delete_skill', { name: 'f', version: '1' }, `delete_skill: 'version' must be a number, not "1"`],
      [
        'save_value',
        { name: 'v', part: 2, parts: 2, size: 1, data: '' },
        "save_value: 'part' is 2, but a value of 2 parts has parts 0 to 1",
      ],
      [
        'save_value',
        { name: 'v', part: -1, data: 7 },
        "save_value: 'part' must be at least 0, not -1; 'parts' is missing (a number); 'size' is missing (a number); 'data' must be a string, not 7",
      ],
      [
        'load_value',
        { name: 'v', offset: 2 ** 53 },
        "load_value: 'offset' must be at most 9,007,199,254,740,991, not 9007199254740992",
      ],
      ['delete_value', { name: null }, "delete_value: 'name' must be a string, not null"],
      ['read_output', { handle: 7 }, "read_output: 'handle' must be a string, not 7"],
      [
        'read_output',
        { handle: 'out-1', length: 2_000_000 },
        "read_output: 'length' must be at most 1,000,000, not 2000000",
      ],
      ['reset_session', { name: ['s'] }, "reset_session: 'name' must be a string, not a list"],
      [
        'attach',
        { mimeType: 'image png', data: '' },
        `attach: 'mimeType' must be a MIME type such as image/png, not "image png"`,
      ],
      ['attach', { mimeType: 'text/plain', data: '!!' }, "attach: 'data' must be base64"],
      [
        'attach',
        { mimeType: 'text/plain', data: '', name: 'n'.repeat(300) },
        "attach: 'name' is 300 characters; the limit is 256",
      ],
    ];
    const answers = await callAll(cases.map(([op, args]) => [op, args] as const));
    expect(answers).toEqual(cases.map(([, , message]) => `BAD_ARGUMENTS: ${message}`));
  });

  it('passes well-formed arguments on, without the keys it does not know', async () => {
    const [described, listed, values] = await callAll([
      ['describe_server', { name: 'everything', padding: 'p'.repeat(1000) }],
      ['list_sessions', { __proto__: { polluted: true } }],
      ['list_values', {}],
    ]);
    expect(described).toMatchObject({ name: 'everything' });
    expect(listed).toEqual([]);
    expect(values).toEqual([]);
  });

  it('refuses two operations of one name', () => {
    const ping = hostOperation({ name: 'ping', args: z.object({}), handler: () => 'pong' });
    expect(() => new HostOperations([ping, ping])).toThrow("host operation 'ping' is defined twice");
  });

  it('lets a handler refuse with its own code and message', async () => {
    const table = new HostOperations([
      hostOperation({
        name: 'fail',
        args: z.object({}),
        handler: () => {
          throw new HostCallError('no such thing', 'NOT_FOUND');
        },
      }),
    ]);
    const context = { run: { runId: 'r' }, record: new RunRecord(10), replies: undefined };
    await expect(table.call('fail', {}, context, new AbortController().signal)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: 'no such thing',
    });
  });
});
