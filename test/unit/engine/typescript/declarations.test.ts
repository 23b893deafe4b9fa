/**
 * TypeScript declarations from JSON Schemas (pure): the type each schema construct becomes, doc comments
 * a server cannot break out of, and the size bound. The reference servers' declarations are checked
 * with the compiler in test/integration/typescript-checker.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  MCP_OWN_KEYS,
  serverDeclaration,
  type TypedServer,
  type TypedTool,
} from '../../../../src/engine/typescript/declarations.js';
import { SchemaRenderer } from '../../../../src/engine/typescript/schema-to-ts.js';
import { docComment, propertyKey, typeName } from '../../../../src/engine/typescript/ts-syntax.js';

function render(schema: unknown): { type: string; named: string[] } {
  const renderer = new SchemaRenderer({ taken: new Set(), namespace: 'mcp_s', budgetChars: 1_000_000 });
  const type = renderer.render(schema, '', 'root').replace(/\s+/g, ' ');
  return { type, named: renderer.named.map((entry) => `${entry.name} = ${entry.type.replace(/\s+/g, ' ')}`) };
}

describe('JSON Schema → TypeScript types', () => {
  it.each<[string, unknown, string]>([
    ['string', { type: 'string' }, 'string'],
    ['integer and number', { type: ['integer', 'number'] }, 'number'],
    ['boolean', { type: 'boolean' }, 'boolean'],
    ['null', { type: 'null' }, 'null'],
    ['a list of types (nullable)', { type: ['string', 'null'] }, 'string | null'],
    ['OpenAPI nullable', { type: 'number', nullable: true }, 'number | null'],
    ['enum', { enum: ['a', 'b', 3, null, true] }, '"a" | "b" | 3 | null | true'],
    ['enum with an object in it', { enum: [{ a: 1 }] }, 'unknown'],
    ['const', { const: 'fixed' }, '"fixed"'],
    ['negative const', { const: -1.5 }, '-1.5'],
    ['quotes in literals', { enum: ['say "hi"', "it's"] }, '"say \\"hi\\"" | "it\'s"'],
    ['array', { type: 'array', items: { type: 'string' } }, 'string[]'],
    ['array of a union', { type: 'array', items: { type: ['string', 'number'] } }, '(string | number)[]'],
    ['array without items', { type: 'array' }, 'unknown[]'],
    [
      'draft-7 tuple, closed',
      { type: 'array', items: [{ type: 'string' }, { type: 'number' }], additionalItems: false, minItems: 2 },
      '[string, number]',
    ],
    [
      '2020-12 tuple with a rest',
      { type: 'array', prefixItems: [{ type: 'string' }], items: { type: 'boolean' }, minItems: 1 },
      '[string, ...boolean[]]',
    ],
    [
      'optional tuple members',
      { type: 'array', prefixItems: [{ type: 'string' }], items: false },
      '[string?]',
    ],
    [
      'object with required and optional members',
      { type: 'object', properties: { a: { type: 'string' }, b: { type: 'number' } }, required: ['a'] },
      '{ a: string; b?: number; }',
    ],
    ['object, closed and empty', { type: 'object', additionalProperties: false }, '{}'],
    ['object, any keys', { type: 'object' }, '{ [key: string]: unknown }'],
    ['record', { type: 'object', additionalProperties: { type: 'integer' } }, '{ [key: string]: number }'],
    [
      'members and extra keys',
      { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: true },
      '{ a?: string; [key: string]: unknown; }',
    ],
    ['object by its properties alone', { properties: { x: {} } }, '{ x?: unknown; }'],
    [
      'names that are not identifiers are quoted',
      { type: 'object', properties: { 'get-sum': {}, 'a b': {}, '': {}, constructor: {}, __proto__x: {} } },
      '{ "get-sum"?: unknown; "a b"?: unknown; ""?: unknown; "constructor"?: unknown; __proto__x?: unknown; }',
    ],
    [
      'anyOf',
      { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
      'string | string[]',
    ],
    ['oneOf with null', { oneOf: [{ type: 'number' }, { type: 'null' }] }, 'number | null'],
    [
      'allOf',
      {
        allOf: [
          { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] },
          { type: 'object', properties: { b: { type: 'number' } }, required: ['b'] },
        ],
      },
      '{ a: string; } & { b: number; }',
    ],
    [
      'a base object beside oneOf',
      {
        type: 'object',
        properties: { kind: { type: 'string' } },
        oneOf: [{ properties: { a: {} } }, { properties: { b: {} } }],
      },
      '{ kind?: string; } & ({ a?: unknown; } | { b?: unknown; })',
    ],
    ['true and false schemas', { type: 'array', items: false }, 'never[]'],
    ['an unknown type keyword', { type: 'decimal' }, 'unknown'],
    ['an empty schema', {}, 'unknown'],
    ['not a schema at all', 'string', 'unknown'],
    ['an unresolvable $ref', { $ref: '#/$defs/Missing' }, 'unknown'],
    ['a remote $ref', { $ref: 'https://example.com/schema.json' }, 'unknown'],
  ])('%s', (_label, schema, expected) => {
    expect(render(schema).type).toBe(expected);
  });

  it('names $defs and definitions, once each however often they are used', () => {
    const { type, named } = render({
      type: 'object',
      properties: {
        a: { $ref: '#/$defs/Item' },
        b: { type: 'array', items: { $ref: '#/$defs/Item' } },
        c: { $ref: '#/definitions/Other' },
      },
      $defs: { Item: { type: 'object', description: 'An item', properties: { id: { type: 'integer' } } } },
      definitions: { Other: { enum: ['x'] } },
    });
    expect(type).toBe('{ a?: mcp_s.Item; b?: mcp_s.Item[]; c?: mcp_s.Other; }');
    expect(named).toEqual(['Item = { id?: number; }', 'Other = "x"']);
  });

  it('declares recursive schemas, through $defs and through the root', () => {
    const tree = render({
      $defs: {
        Node: {
          type: 'object',
          properties: {
            value: { type: 'number' },
            children: { type: 'array', items: { $ref: '#/$defs/Node' } },
          },
          required: ['value'],
        },
      },
      $ref: '#/$defs/Node',
    });
    expect(tree.type).toBe('mcp_s.Node');
    expect(tree.named).toEqual(['Node = { value: number; children?: mcp_s.Node[]; }']);
    const list = render({ type: 'object', properties: { next: { $ref: '#' } } });
    expect(list.type).toBe('{ next?: mcp_s.root; }');
    expect(list.named).toEqual(['root = { next?: mcp_s.root; }']);
  });

  it('gives colliding and reserved definition names distinct identifiers', () => {
    expect(typeName('string')).toBe('string_');
    expect(typeName('9lives')).toBe('_9lives');
    expect(typeName('a-b.c')).toBe('a_b_c');
    expect(typeName('***')).toBe('Type');
    const taken = new Set(['Item']);
    const renderer = new SchemaRenderer({ taken, namespace: 'n', budgetChars: 10_000 });
    renderer.render({ $ref: '#/$defs/Item', $defs: { Item: { type: 'string' } } }, '', 'root');
    expect(renderer.named.map((entry) => entry.name)).toEqual(['Item_2']);
  });

  it('stops at a depth bound instead of the stack', () => {
    let schema: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 5000; i++) schema = { type: 'array', items: schema };
    expect(render(schema).type).toMatch(/unknown(\[\])+$/);
  });

  it('quotes keys that are not plain identifiers', () => {
    expect(propertyKey('plain_1')).toBe('plain_1');
    expect(propertyKey('$ok')).toBe('$ok');
    expect(propertyKey('with space')).toBe('"with space"');
    expect(propertyKey('"};evil()//')).toBe('"\\"};evil()//"');
    expect(propertyKey('__proto__')).toBe('"__proto__"');
  });
});

describe('doc comments from server text', () => {
  it.each([
    ['closing the comment', 'ends here */ declare const pwned: 1; /*', '*\\/ declare const pwned: 1; /*'],
    ['a line separator', 'one\u2028two', 'one two'],
    ['control characters', 'bell\u0007 and escape\u001b[31m', 'bell  and escape [31m'],
  ])('neutralises %s', (_label, text, kept) => {
    const comment = docComment([text], '  ');
    expect(comment).toContain(kept);
    expect(comment.match(/\*\//g)).toHaveLength(1);
  });

  it('cuts a long description', () => {
    expect(docComment(['x'.repeat(10_000)], '').length).toBeLessThan(2100);
  });

  it('writes nothing for nothing', () => {
    expect(docComment(['', '  '], '  ')).toBe('');
  });
});

describe('server declarations', () => {
  const tool = (
    name: string,
    inputSchema: Record<string, unknown>,
    extra: Partial<TypedTool> = {},
  ): TypedTool => ({
    name,
    alias: name.replace(/[^A-Za-z0-9_]/g, '_'),
    inputSchema,
    ...extra,
  });

  it('declares each tool as a method taking its arguments and promising its result', () => {
    const { text, degraded } = serverDeclaration({
      name: 'my-server',
      alias: 'my_server',
      description: 'Does things',
      tools: [
        tool(
          'add',
          { type: 'object', properties: { a: { type: 'number' } }, required: ['a'] },
          {
            description: 'Adds',
            outputSchema: { type: 'object', properties: { sum: { type: 'number' } }, required: ['sum'] },
          },
        ),
        tool('get-all', { type: 'object', properties: {} }),
      ],
    });
    expect(degraded).toEqual([]);
    expect(text).toContain('readonly my_server: {');
    expect(text).toContain('add(args: {');
    expect(text).toMatch(/\}\): Promise<\{\s+sum: number;\s+\}>;/);
    expect(text).toContain('get_all(args?: { [key: string]: unknown }): Promise<unknown>;');
    expect(text).toContain(' * Does things\n');
  });

  it('refuses an alias the mcp object holds itself', () => {
    for (const alias of MCP_OWN_KEYS) {
      expect(() => serverDeclaration({ name: alias, alias, tools: [] })).toThrow(/reserve/);
    }
  });

  it('keeps to its size bound: loose types first, then names only, then a count', () => {
    const big = {
      type: 'object',
      properties: Object.fromEntries(
        Array.from({ length: 200 }, (_, i) => [`p${i}`, { type: 'string', description: 'd'.repeat(50) }]),
      ),
    };
    const server: TypedServer = {
      name: 's',
      alias: 's',
      tools: Array.from({ length: 300 }, (_, i) => tool(`t${i}`, big, { description: `Tool ${i}` })),
    };
    const { text, degraded } = serverDeclaration(server, { maxChars: 40_000 });
    expect(text.length).toBeLessThanOrEqual(40_000);
    expect(degraded.length).toBeGreaterThan(250);
    expect(text).toContain('t0(args?: {');
    expect(text).toMatch(/t\d+\(args\?: Record<string, unknown>\): Promise<unknown>;/);
    expect(text).toMatch(/\/\/ \d+ more tools are left out .* mcp\.runtime\.callTool/);
  });
});
