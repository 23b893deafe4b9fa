/**
 * The resources a client reads without running code, over the in-memory transport: the real
 * `McpServer` and SDK `Client`, a real engine over the scripted port (one server, `everything`).
 */
import { describe, expect, it } from 'vitest';
import type { UpstreamPort } from '../../../src/engine/types.js';
import type { SandboxExit } from '../../../src/sandbox/types.js';
import { BridgeError } from '../../../src/shared/errors.js';
import { connectInMemory } from '../../helpers/in-memory-bridge.js';
import { scriptedEngine, scriptedUpstreams } from '../../helpers/scripted-engine.js';

const done = async (): Promise<SandboxExit> => ({ kind: 'done', ok: true });

const SKILL = {
  name: 'tally',
  version: 2,
  versions: [1, 2],
  source: 'def tally(xs):\n    """Counts things."""\n    return len(xs)\n',
  description: 'Counts things.',
  signature: '(xs)',
  servers: ['everything'],
};

async function read(bridge: Awaited<ReturnType<typeof connectInMemory>>, uri: string): Promise<string> {
  const { contents } = await bridge.client.readResource({ uri });
  expect(contents).toHaveLength(1);
  expect(contents[0]?.uri).toBe(uri);
  return (contents[0] as { text: string }).text;
}

describe('resources', () => {
  it('lists the fixed resources and, through their templates, each server and saved skill', async () => {
    const { engine } = scriptedEngine(done, { skills: { forRun: async () => [SKILL] } });
    const { client } = await connectInMemory(engine);
    const { resources } = await client.listResources();
    expect(resources.map((resource) => [resource.uri, resource.mimeType])).toEqual([
      ['codemode://sessions', 'text/markdown'],
      ['codemode://capabilities', 'text/markdown'],
      ['codemode://skills', 'text/markdown'],
      ['codemode://skills/tally', 'text/x-python'],
      ['codemode://servers/everything', 'text/markdown'],
    ]);
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates.map((template) => template.uriTemplate)).toEqual([
      'codemode://skills/{name}',
      'codemode://servers/{name}',
    ]);
  });

  it('completes the name in the server and skill templates (completion/complete), by prefix', async () => {
    const upstreams: UpstreamPort = {
      ...scriptedUpstreams(),
      catalog: () => ['everything', 'memory', 'Events'].map((name) => ({ name, alias: name.toLowerCase() })),
    };
    const { engine } = scriptedEngine(done, { upstreams, skills: { forRun: async () => [SKILL] } });
    const { client } = await connectInMemory(engine);
    expect(client.getServerCapabilities()?.completions).toEqual({});
    const complete = async (uri: string, value: string) =>
      (
        await client.complete({
          ref: { type: 'ref/resource', uri },
          argument: { name: 'name', value },
        })
      ).completion;
    expect(await complete('codemode://servers/{name}', 'e')).toMatchObject({
      values: ['Events', 'everything'],
    });
    expect(await complete('codemode://servers/{name}', 'mem')).toMatchObject({ values: ['memory'] });
    expect(await complete('codemode://servers/{name}', 'zzz')).toMatchObject({ values: [] });
    expect(await complete('codemode://skills/{name}', 't')).toMatchObject({ values: ['tally'] });
  });

  it('reads the capabilities: each server with its tool count, then the helpers', async () => {
    const { engine } = scriptedEngine(done);
    const text = await read(await connectInMemory(engine), 'codemode://capabilities');
    expect(text).toMatch(
      /^# codemode-bridge\n\n## Servers\n- everything \(mcp_everything\): 1 tools\n\n## Helpers\n/,
    );
  });

  it('reads a server that cannot be described as unavailable, saying why', async () => {
    const plain = scriptedUpstreams();
    const failing: UpstreamPort = {
      ...plain,
      describe: async () => {
        throw new BridgeError('UPSTREAM_UNAVAILABLE', "MCP server 'everything' is not running");
      },
    };
    const { engine } = scriptedEngine(done, { upstreams: failing });
    const bridge = await connectInMemory(engine);
    expect(await read(bridge, 'codemode://capabilities')).toContain(
      "- everything (mcp_everything): unavailable: MCP server 'everything' is not running",
    );
    expect(await read(bridge, 'codemode://servers/everything')).toBe(
      "# everything\nunavailable: MCP server 'everything' is not running",
    );
  });

  it("reads one server's tools", async () => {
    const { engine } = scriptedEngine(done);
    expect(await read(await connectInMemory(engine), 'codemode://servers/everything')).toBe(
      '# everything (mcp_everything)\n\n1 tools:\n- echo',
    );
  });

  it('reads the saved skills and one skill’s source', async () => {
    const { engine } = scriptedEngine(done, { skills: { forRun: async () => [SKILL] } });
    const bridge = await connectInMemory(engine);
    expect(await read(bridge, 'codemode://skills')).toContain(
      '- tally(xs) [version 2, versions 1, 2] — Counts things. (uses everything)',
    );
    expect(await read(bridge, 'codemode://skills/tally')).toBe(SKILL.source);
  });

  it('answers a server or skill that does not exist with the MCP error for a missing resource', async () => {
    const { engine } = scriptedEngine(done, { skills: { forRun: async () => [SKILL] } });
    const { client } = await connectInMemory(engine);
    for (const [uri, what, known] of [
      ['codemode://servers/nowhere', 'no MCP server is named "nowhere"', '"everything"'],
      ['codemode://skills/nope', 'no saved skill is named "nope"', '"tally"'],
    ] as const) {
      await expect(client.readResource({ uri })).rejects.toMatchObject({
        code: -32002,
        message: expect.stringContaining(`Resource ${uri} not found: ${what}; there are: ${known}`),
        data: { uri },
      });
    }
  });

  it("reads this client's sessions only", async () => {
    const { engine } = scriptedEngine(done);
    const owner = await connectInMemory(engine);
    const other = await connectInMemory(engine);
    await owner.run({ code: 'x = 1', session: 'mine' });
    expect(await read(owner, 'codemode://sessions')).toMatch(
      /^# Sessions\n\n- mine: 1 runs, last used \S+, expires in \d+ s if idle\n/,
    );
    expect(await read(other, 'codemode://sessions')).toMatch(/^# Sessions\n\nNone\. Pass `session="name"`/);
  });
});
