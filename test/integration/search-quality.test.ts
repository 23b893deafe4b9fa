/**
 * Ranking quality of `searchTools` against the real tool catalog of the three reference servers
 * (issue 6: the expected tool in the top 3 for at least 90% of a fixed query set). The queries are
 * what a model plausibly writes; when one misses, fix the ranker, not the table.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { buildSearchIndex, type SearchIndex, searchTools } from '../../src/upstream/search.js';
import type { ServerDescription } from '../../src/upstream/upstream-pool.js';
import { loadReferenceCatalog } from '../helpers/tool-catalog.js';

const QUERIES: ReadonlyArray<readonly [query: string, expected: string]> = [
  ['add two numbers', 'everything/get-sum'],
  ['sum of a and b', 'everything/get-sum'],
  ['echo back a message', 'everything/echo'],
  ['tiny image', 'everything/get-tiny-image'],
  ['get the logo picture', 'everything/get-tiny-image'],
  ['environment variables', 'everything/get-env'],
  ['print all env vars', 'everything/get-env'],
  ['long running task with progress', 'everything/trigger-long-running-operation'],
  ['start a slow operation that reports progress', 'everything/trigger-long-running-operation'],
  ['structured weather data', 'everything/get-structured-content'],
  ['compress a file with gzip', 'everything/gzip-file-as-resource'],
  ['turn logging on or off', 'everything/toggle-simulated-logging'],
  ['enable resource subscription updates', 'everything/toggle-subscriber-updates'],
  ['get a reference to a resource', 'everything/get-resource-reference'],
  ['return links to resources', 'everything/get-resource-links'],
  ['message with annotations', 'everything/get-annotated-message'],
  ['deep research on a topic', 'everything/simulate-research-query'],
  ['store facts about a person', 'memory/create_entities'],
  ['find entities in the knowledge graph', 'memory/search_nodes'],
  ['delete a relation', 'memory/delete_relations'],
  ['link two entities with a relationship', 'memory/create_relations'],
  ['add an observation to an existing entity', 'memory/add_observations'],
  ['remove an entity from memory', 'memory/delete_entities'],
  ['forget an observation', 'memory/delete_observations'],
  ['dump the whole knowledge graph', 'memory/read_graph'],
  ['look up nodes by name', 'memory/open_nodes'],
  ['query the memory for a keyword', 'memory/search_nodes'],
  ['read a text file', 'filesystem/read_text_file'],
  ['fetch the contents of a file', 'filesystem/read_text_file'],
  ['show the first 10 lines of a file', 'filesystem/read_text_file'],
  ['read several files at once', 'filesystem/read_multiple_files'],
  ['read an image or audio file as base64', 'filesystem/read_media_file'],
  ['write text to a file', 'filesystem/write_file'],
  ['save content to disk', 'filesystem/write_file'],
  ['edit lines in a file', 'filesystem/edit_file'],
  ['replace text in a file', 'filesystem/edit_file'],
  ['preview a diff before changing a file', 'filesystem/edit_file'],
  ['create a directory', 'filesystem/create_directory'],
  ['make a new folder', 'filesystem/create_directory'],
  ['list files in a folder', 'filesystem/list_directory'],
  ['list folder contents with file sizes', 'filesystem/list_directory_with_sizes'],
  ['sort directory listing by size', 'filesystem/list_directory_with_sizes'],
  ['show the directory tree recursively', 'filesystem/directory_tree'],
  ['which directories can I access', 'filesystem/list_allowed_directories'],
  ['search for files matching a pattern', 'filesystem/search_files'],
  ['exclude node_modules when searching files', 'filesystem/search_files'],
  ['move or rename a file', 'filesystem/move_file'],
  ['rename a directory', 'filesystem/move_file'],
  ['get file size and modification time', 'filesystem/get_file_info'],
  ['get metadata for a file', 'filesystem/get_file_info'],
  ['get the sum of 3 and 4', 'everything/get-sum'],
  ['debug the server configuration', 'everything/get-env'],
  ['random log messages', 'everything/toggle-simulated-logging'],
  ['download a compressed resource', 'everything/gzip-file-as-resource'],
  ['ask the user for clarification during research', 'everything/simulate-research-query'],
  ['error message annotations', 'everything/get-annotated-message'],
  ['list all entities and relations', 'memory/read_graph'],
  ['get details about specific entities by name', 'memory/open_nodes'],
  ['delete entities', 'memory/delete_entities'],
  ['overwrite a file with new content', 'filesystem/write_file'],
  ['read a png image', 'filesystem/read_media_file'],
  ['recursive listing of a project as json', 'filesystem/directory_tree'],
  ['find a file by name', 'filesystem/search_files'],
  ['what files are in this directory', 'filesystem/list_directory'],
];

const TOP_K = 3;
const REQUIRED_TOP_K_RATE = 0.9;
// Not required by the issue; a floor below today's figure so a ranking regression shows up.
const REQUIRED_TOP_1_RATE = 0.8;

let catalog: ServerDescription[];
let index: SearchIndex;

beforeAll(async () => {
  catalog = await loadReferenceCatalog();
  index = buildSearchIndex(catalog);
});

describe('search ranking quality on the reference servers', () => {
  it('catalog has the tools the table names', () => {
    const known = new Set(
      catalog.flatMap((server) => server.tools.map((tool) => `${server.name}/${tool.name}`)),
    );
    expect(QUERIES.filter(([, expected]) => !known.has(expected))).toEqual([]);
  });

  it(`puts the expected tool in the top ${TOP_K} for at least ${REQUIRED_TOP_K_RATE * 100}% of queries`, () => {
    let top1 = 0;
    let topK = 0;
    const misses: string[] = [];
    const secondPlace: string[] = [];
    for (const [query, expected] of QUERIES) {
      const hits = searchTools(index, query, TOP_K).map((hit) => `${hit.server}/${hit.tool}`);
      const line = `  ${JSON.stringify(query)} → expected ${expected}, got ${hits.join(', ') || '(none)'}`;
      if (hits[0] === expected) top1++;
      else if (hits.includes(expected)) secondPlace.push(line);
      else misses.push(line);
      if (hits.includes(expected)) topK++;
    }
    const rate = (count: number) =>
      `${count}/${QUERIES.length} (${((100 * count) / QUERIES.length).toFixed(1)}%)`;
    console.log(
      [
        `search quality over ${QUERIES.length} queries: top-1 ${rate(top1)}, top-${TOP_K} ${rate(topK)}`,
        `misses (not in top ${TOP_K}):`,
        ...(misses.length ? misses : ['  none']),
        `in top ${TOP_K} but not first:`,
        ...(secondPlace.length ? secondPlace : ['  none']),
      ].join('\n'),
    );
    expect(QUERIES.length).toBeGreaterThanOrEqual(35);
    expect(topK / QUERIES.length).toBeGreaterThanOrEqual(REQUIRED_TOP_K_RATE);
    expect(top1 / QUERIES.length).toBeGreaterThanOrEqual(REQUIRED_TOP_1_RATE);
  });
});
