import { describe, expect, it } from 'vitest';
import { buildSearchIndex, searchTools, tokenize } from '../../../src/upstream/search.js';
import type { ServerDescription, ToolDescription } from '../../../src/upstream/upstream-pool.js';

function tool(name: string, description?: string, properties: Record<string, unknown> = {}): ToolDescription {
  return {
    name,
    alias: name.replace(/[^A-Za-z0-9_]+/g, '_'),
    ...(description ? { description } : {}),
    inputSchema: { type: 'object', properties },
  };
}

const CATALOG: ServerDescription[] = [
  {
    name: 'files',
    alias: 'files',
    tools: [
      tool('read_file', 'Read the complete contents of a file. DEPRECATED: use read_text_file.', {
        path: { type: 'string' },
      }),
      tool('read_text_file', 'Read the complete contents of a file as text.', { path: { type: 'string' } }),
      tool('write_file', 'Create a new file or overwrite an existing one.', {
        path: { type: 'string' },
        content: { type: 'string' },
      }),
      tool('list_directory', 'List the entries of a directory.', { path: { type: 'string' } }),
      tool('move_file', 'Move or rename a file.', { source: {}, destination: {} }),
    ],
  },
  {
    name: 'math-tools',
    alias: 'math_tools',
    tools: [
      tool('get-sum', 'Returns the sum of two numbers', {
        a: { type: 'number', description: 'First number' },
        b: { type: 'number', description: 'Second number' },
      }),
      tool('get-env', 'Returns all environment variables'),
    ],
  },
  {
    name: 'graph',
    alias: 'graph',
    tools: [
      tool('create_entities', 'Create entities in the knowledge graph', {
        entities: {
          type: 'array',
          items: { type: 'object', properties: { name: {}, observations: { description: 'Facts' } } },
        },
      }),
      tool('search_nodes', 'Search for nodes in the knowledge graph', {
        query: { type: 'string', description: 'Text to match' },
      }),
    ],
  },
];

const ids = (hits: { server: string; tool: string }[]) => hits.map((hit) => `${hit.server}/${hit.tool}`);

describe('tokenize', () => {
  it.each([
    ['readTextFile', ['read', 'text', 'fil']],
    ['get-tiny-image', ['get', 'tiny', 'imag']],
    ['list_directory_with_sizes', ['list', 'directory', 'siz']],
    ['filesystem.read_file', ['filesystem', 'read', 'fil']],
    ['a/b/path', ['path']],
    ['MIMEType utf8Text', ['mim', 'typ', 'utf8', 'text']],
    ['HTTPServer', ['http', 'server']],
    ['Read the FILE, please!', ['read', 'fil']],
    ['entities directories queries', ['entity', 'directory', 'query']],
    ['matches boxes processes', ['match', 'box', 'process']],
    ['files names relations', ['fil', 'nam', 'relation']],
    ['status analysis class', ['status', 'analysis', 'class']],
    ['create creates created creating', ['creat', 'creat', 'creat', 'creat']],
    ['running logged stopped', ['run', 'log', 'stop']],
    ['added passed called', ['add', 'pass', 'call']],
    ['copied copying', ['copy', 'copy']],
    ['string thing need', ['string', 'thing', 'need']],
    ['sum of 2 and 3', ['sum', '2', '3']],
    ['ÜberGröße naïve', ['über', 'größ', 'naïv']],
    ['the a of and to', []],
    ['', []],
    ['  -- __ ..  ', []],
  ])('%j → %j', (text, expected) => {
    expect(tokenize(text)).toEqual(expected);
  });
});

describe('searchTools', () => {
  const index = buildSearchIndex(CATALOG);

  it.each([
    ['add two numbers', 'math-tools/get-sum'],
    ['environment variables', 'math-tools/get-env'],
    ['list a folder', 'files/list_directory'],
    ['rename a document', 'files/move_file'],
    ['save text to disk', 'files/write_file'],
    ['find nodes', 'graph/search_nodes'],
    ['store facts about a person', 'graph/create_entities'],
  ])('%j ranks %s first', (query, expected) => {
    expect(ids(searchTools(index, query))[0]).toBe(expected);
  });

  it('ranks an exact name first, whatever its separators, case or server prefix', () => {
    for (const query of ['read_file', 'READ-FILE', 'readFile', 'files.read_file', 'files/read_file']) {
      expect(ids(searchTools(index, query))[0]).toBe('files/read_file');
    }
  });

  it('boosts a tool whose name the query begins with', () => {
    expect(ids(searchTools(index, 'list_dir'))[0]).toBe('files/list_directory');
    expect(ids(searchTools(index, 'get-s'))[0]).toBe('math-tools/get-sum');
  });

  it('boosts a tool named by one word of a longer query', () => {
    expect(ids(searchTools(index, 'use read_file on the log'))[0]).toBe('files/read_file');
  });

  it('prefers the successor of a deprecated tool', () => {
    expect(ids(searchTools(index, 'read the contents of a file')).slice(0, 2)).toEqual([
      'files/read_text_file',
      'files/read_file',
    ]);
  });

  it('returns scores sorted descending, rounded to 3 decimals, and never 0', () => {
    const hits = searchTools(index, 'file', 10);
    expect(hits.length).toBeGreaterThan(1);
    for (const [i, hit] of hits.entries()) {
      expect(hit.score).toBeGreaterThan(0);
      expect(Math.round(hit.score * 1000) / 1000).toBe(hit.score);
      if (i > 0) expect(hit.score).toBeLessThanOrEqual(hits[i - 1]?.score ?? Number.POSITIVE_INFINITY);
    }
  });

  it('omits tools that match nothing', () => {
    expect(ids(searchTools(index, 'knowledge graph', 10))).toEqual([
      'graph/create_entities',
      'graph/search_nodes',
    ]);
    expect(searchTools(index, 'xyzzy')).toEqual([]);
  });

  it('breaks score ties by server, then tool name', () => {
    const twins = buildSearchIndex([
      { name: 'zeta', alias: 'zeta', tools: [tool('ping', 'Ping it'), tool('echo', 'Ping it')] },
      { name: 'alpha', alias: 'alpha', tools: [tool('pong', 'Ping it'), tool('beep', 'Ping it')] },
    ]);
    const hits = searchTools(twins, 'ping it', 10).filter((hit) => hit.tool !== 'ping');
    expect(ids(hits)).toEqual(['alpha/beep', 'alpha/pong', 'zeta/echo']);
    expect(new Set(hits.map((hit) => hit.score)).size).toBe(1);
  });

  it('is deterministic: the same catalog and query give the same hits, whatever the catalog order', () => {
    const reversed = buildSearchIndex(
      [...CATALOG].reverse().map((server) => ({ ...server, tools: [...server.tools].reverse() })),
    );
    for (const query of ['file', 'read a file', 'graph', 'get']) {
      const first = searchTools(index, query, 10);
      expect(searchTools(index, query, 10)).toEqual(first);
      expect(searchTools(reversed, query, 10)).toEqual(first);
    }
  });

  it.each(['', '   ', '\n\t', 'the of a'])('returns [] for the query %j', (query) => {
    expect(searchTools(index, query)).toEqual([]);
  });

  it('returns at most `limit` hits, 5 by default, and none for a limit below 1', () => {
    expect(searchTools(index, 'file')).toHaveLength(5);
    expect(searchTools(index, 'file', 2)).toHaveLength(2);
    expect(searchTools(index, 'file', 2)).toEqual(searchTools(index, 'file', 10).slice(0, 2));
    expect(searchTools(index, 'file', 0)).toEqual([]);
    expect(searchTools(index, 'file', -1)).toEqual([]);
  });

  it('returns [] for an empty catalog', () => {
    expect(searchTools(buildSearchIndex([]), 'read a file')).toEqual([]);
  });
});
