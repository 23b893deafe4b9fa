/**
 * Type-checking programs before they run, with TypeScript's compiler in process (seconds to load, so
 * not in the unit tier): errors with their line and column, the runtime's own declaration
 * (`mcp.runtime`, ToolError, PolicyError, console), top-level await, a grant that changes between
 * checks, and the reference servers' real tools/list (fixtures dumped from
 * @modelcontextprotocol/server-everything, -memory and -filesystem), which must declare without a type
 * error and check programs that use them.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  serverDeclaration,
  type TypedServer,
  type TypedTool,
} from '../../src/engine/typescript/declarations.js';
import { formatDiagnostics, ProgramChecker } from '../../src/engine/typescript/program-checker.js';
import { assignAliases } from '../../src/upstream/config/alias.js';

const RUNTIME_DECLARATION = readFileSync(
  new URL('../../runtime/typescript/mcp.d.ts', import.meta.url),
  'utf8',
);

const weather = serverDeclaration({
  name: 'weather',
  alias: 'weather',
  tools: [
    {
      name: 'forecast',
      alias: 'forecast',
      inputSchema: {
        type: 'object',
        properties: { city: { type: 'string' }, days: { type: 'integer' } },
        required: ['city'],
      },
      outputSchema: { type: 'object', properties: { high: { type: 'number' } }, required: ['high'] },
    },
  ],
}).text;
const clock = serverDeclaration({
  name: 'clock',
  alias: 'clock',
  tools: [{ name: 'now', alias: 'now', inputSchema: { type: 'object' } }],
}).text;

describe('ProgramChecker', () => {
  const checker = new ProgramChecker(RUNTIME_DECLARATION);
  const grant = [{ key: 'weather-1', text: weather }];
  const errors = (code: string, files = grant) =>
    checker.check(code, files).diagnostics.map((d) => `${d.line}:${d.column} TS${d.code}`);

  it('accepts a program using tools, results, mcp.runtime, errors and top-level await', () => {
    const code = [
      'const f = await mcp.weather.forecast({ city: "Oslo", days: 2 });',
      'const high: number = f.high;',
      'const servers = await mcp.runtime.servers();',
      'const hits = await mcp.runtime.search("rain", { limit: 3 });',
      'const raw = await mcp.runtime.callTool("weather", "forecast", { city: "Rome" }, { raw: true });',
      'try { await mcp.weather.forecast({ city: "x" }); } catch (e) {',
      '  if (e instanceof PolicyError) console.log(e.rule, e.code);',
      '  else if (e instanceof mcp.ToolError) console.error(e.server, e.tool, e.code);',
      '}',
      'console.log(high, servers.length, hits[0]?.signature, raw);',
      'export default async () => high;',
    ].join('\n');
    expect(checker.check(code, grant)).toEqual({ diagnostics: [], omitted: 0 });
  });

  it('reports each error at its line and column, before anything runs', () => {
    expect(errors('const f = await mcp.weather.forecast({ days: 2 });\nconst x: string = f.high;\n')).toEqual(
      ['1:38 TS2345', '2:7 TS2322'],
    );
    expect(errors('await mcp.weather.nope();')).toEqual(['1:19 TS2339']);
    expect(errors('await mcp.clock.now();')).toEqual(['1:11 TS2339']);
    expect(errors('const a = ;')).toEqual(['1:11 TS1109']);
  });

  it('types results without an output schema as unknown, which a program must narrow', () => {
    const files = [...grant, { key: 'clock-1', text: clock }];
    expect(errors('const t = await mcp.clock.now();\nconsole.log(t.hours);', files)).toEqual([
      '2:13 TS18046',
    ]);
    expect(
      errors('const t = (await mcp.clock.now()) as { hours: number };\nconsole.log(t.hours);', files),
    ).toEqual([]);
  });

  it('knows only what the sandbox offers: no DOM, no Node, no Deno namespace', () => {
    expect(errors('document.title; process.env; Deno.readTextFile("x"); require("fs");')).toEqual([
      '1:1 TS2584',
      '1:17 TS2591',
      '1:30 TS2304',
      '1:54 TS2591',
    ]);
  });

  it('follows the grant from one check to the next', () => {
    const both = [...grant, { key: 'clock-1', text: clock }];
    expect(errors('await mcp.clock.now();', both)).toEqual([]);
    expect(errors('await mcp.clock.now();', grant)).toEqual(['1:11 TS2339']);
    expect(errors('await mcp.clock.now();', [{ key: 'clock-1', text: clock }])).toEqual([]);
  });

  it('checks against the text it is given, even under a key it has seen with another text', () => {
    expect(errors('await mcp.clock.now();', [{ key: 'reused', text: clock }])).toEqual([]);
    expect(errors('await mcp.clock.now();', [{ key: 'reused', text: weather }])).toEqual(['1:11 TS2339']);
  });

  it('lists at most 20 errors and counts the rest', () => {
    const code = Array.from({ length: 30 }, (_, i) => `const v${i}: number = "x";`).join('\n');
    const result = checker.check(code, grant);
    expect(result.diagnostics).toHaveLength(20);
    expect(result.omitted).toBe(10);
    const text = formatDiagnostics(result);
    expect(text.split('\n')[0]).toBe(
      "program.ts:1:7 - error TS2322: Type 'string' is not assignable to type 'number'.",
    );
    expect(text.split('\n').at(-1)).toBe('… and 10 more errors');
  });

  it('declares the reference servers without a type error, and checks programs against them', () => {
    const servers = ['everything', 'memory', 'filesystem'].map((name): TypedServer => {
      const fixture = JSON.parse(
        readFileSync(new URL(`../fixtures/tool-schemas/${name}.json`, import.meta.url), 'utf8'),
      ) as { tools: Array<Omit<TypedTool, 'alias'>> };
      const aliases = assignAliases(fixture.tools.map((entry) => entry.name));
      return {
        name,
        alias: name,
        tools: fixture.tools.map((entry) => ({ ...entry, alias: aliases.get(entry.name) ?? entry.name })),
      };
    });
    const grant = servers.map((server) => {
      const declaration = serverDeclaration(server);
      expect(declaration.degraded).toEqual([]);
      return { key: server.name, text: declaration.text };
    });
    const good = [
      'const echoed = await mcp.everything.echo({ message: "hi" });',
      'const graph = await mcp.memory.read_graph();',
      'for (const entity of graph.entities) console.log(entity.name, entity.observations.length);',
      'const created = await mcp.memory.create_entities({ entities: [{ name: "a", entityType: "t", observations: [] }] });',
      'console.log(created.entities[0]?.name, echoed);',
      'const listing = await mcp.filesystem.list_directory({ path: "/tmp" });',
      'console.log(listing.content.length);',
    ].join('\n');
    expect(checker.check(good, grant)).toEqual({ diagnostics: [], omitted: 0 });
    const bad = checker.check(
      'await mcp.memory.create_entities({ entities: [{ name: "a" }] });\nawait mcp.everything.echo({ mesage: "typo" });\n',
      grant,
    );
    expect(bad.diagnostics.map((d) => `${d.line}:${d.column} TS${d.code}`)).toEqual([
      '1:47 TS2739',
      '2:29 TS2561',
    ]);
    expect(bad.diagnostics[1]?.message).toContain("Did you mean to write 'message'?");
  });
});
