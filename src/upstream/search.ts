/**
 * Ranked tool search behind `mcp.runtime.search_tool_docs` (docs/architecture.md, "Inside the sandbox"):
 * BM25F over per-tool fields (name, server, description, parameter names and docs), with light stemming, a
 * small synonym table for the verbs and nouns tools are named with, and boosts for exact and prefix name
 * matches. Pure and deterministic: the same catalog and query always give the same hits in the same order.
 */
import type { ServerDescription, ToolDescription } from './upstream-pool.js';

/** One ranked result. */
export interface SearchHit {
  /** The server's configured name. */
  server: string;
  /** The tool's upstream name. */
  tool: string;
  /** Relevance, higher is better, rounded to 3 decimals; never 0. */
  score: number;
}

type Field = 'name' | 'server' | 'description' | 'params' | 'paramDocs';

const FIELDS: readonly Field[] = ['name', 'server', 'description', 'params', 'paramDocs'];

// The name says what a tool does and is what the model will type, so it dominates; parameter names
// are short and deliberate; parameter docs and the server name mostly repeat what is elsewhere.
const FIELD_WEIGHT: Readonly<Record<Field, number>> = {
  name: 4,
  server: 0.75,
  description: 1,
  params: 1.25,
  paramDocs: 0.5,
};

// Length normalisation per field: descriptions vary from 5 to 80 words, names hardly at all.
const FIELD_LENGTH_NORM: Readonly<Record<Field, number>> = {
  name: 0.5,
  server: 0,
  description: 0.75,
  params: 0.5,
  paramDocs: 0.75,
};

const BM25_K1 = 1.2;
/** A synonym counts for this fraction of the word the query actually used. */
const SYNONYM_WEIGHT = 0.6;
/** A query word that only begins a name token (`dir` → `directory`) counts for this fraction. */
const PREFIX_TOKEN_WEIGHT = 0.5;
const MIN_PREFIX_TOKEN_LENGTH = 3;
/** Score exponent on the share of query concepts a tool matches at all. */
const COORDINATION_EXPONENT = 0.5;
/** A tool whose description says it is deprecated keeps this share of its score, so its successor wins. */
const DEPRECATED_FACTOR = 0.8;
/** Added when the whole query is the tool's name or alias (or `server.tool`), ignoring case and separators. */
const EXACT_NAME_BOOST = 10;
/** Added when the whole query begins the tool's name (`list_dir`). */
const NAME_PREFIX_BOOST = 4;
/** Added when one word of a longer query is the tool's name (`use read_text_file for the log`). */
const WORD_NAME_BOOST = 4;
const MIN_NAME_PREFIX_LENGTH = 3;
/** Distinct query terms that count; the rest are ignored, so a search costs O(tools × this) at most. */
const MAX_QUERY_TERMS = 64;
/** How deep nested `properties`/`items` are walked for parameter names and docs. */
const MAX_SCHEMA_DEPTH = 4;

const STOP_WORDS: ReadonlySet<string> = new Set([
  'a',
  'about',
  'all',
  'also',
  'an',
  'and',
  'any',
  'are',
  'as',
  'at',
  'be',
  'by',
  'can',
  'could',
  'do',
  'does',
  'each',
  'every',
  'for',
  'from',
  'has',
  'have',
  'how',
  'i',
  'if',
  'in',
  'into',
  'is',
  'it',
  'its',
  'just',
  'me',
  'my',
  'of',
  'on',
  'only',
  'or',
  'our',
  'please',
  'should',
  'so',
  'some',
  'that',
  'the',
  'their',
  'them',
  'then',
  'there',
  'these',
  'this',
  'those',
  'to',
  'up',
  'via',
  'want',
  'was',
  'we',
  'what',
  'when',
  'where',
  'which',
  'will',
  'with',
  'would',
  'you',
  'your',
]);

// Words a model writes for the same action or object. Groups are written as plain words and stemmed
// once below, so they match whatever `tokenize` makes of the query and the catalog.
const SYNONYM_GROUPS: readonly (readonly string[])[] = [
  ['get', 'read', 'fetch', 'retrieve', 'show', 'load', 'view', 'open'],
  ['list', 'enumerate', 'ls'],
  ['create', 'add', 'make', 'new', 'insert', 'store'],
  ['delete', 'remove', 'erase', 'destroy', 'forget', 'rm'],
  ['write', 'save', 'store', 'persist', 'put'],
  ['search', 'find', 'query', 'lookup', 'locate', 'grep'],
  ['edit', 'modify', 'change', 'update', 'patch'],
  ['move', 'rename', 'mv'],
  ['file', 'document'],
  ['directory', 'folder', 'dir'],
  ['sum', 'add', 'total', 'plus'],
  ['echo', 'repeat', 'print'],
  ['image', 'picture', 'photo', 'logo', 'img'],
  ['environment', 'env'],
  ['variable', 'var'],
  ['info', 'information', 'metadata', 'stat', 'detail'],
  ['compress', 'zip', 'gzip', 'archive'],
  ['entity', 'node', 'person', 'people'],
  ['multiple', 'several', 'many', 'batch', 'bulk'],
  ['relation', 'relationship', 'link'],
  ['observation', 'fact'],
  ['message', 'msg'],
];

const NON_WORD = /[^\p{L}\p{N}]+/u;

/**
 * Splits text into search terms. Identifiers break on camelCase, `_`, `-`, `.`, `/`, whitespace and
 * any other non-letter, non-digit character; terms are lowercased, stop words and single letters
 * dropped (digits stay), and each term lightly stemmed: plural `s`/`es`/`ies`, `-ing`, `-ed`/`-ied`,
 * and a final `e`, so `create`, `creates`, `created` and `creating` all give `creat`.
 */
export function tokenize(text: string): string[] {
  const spaced = text
    // `MIMEType` → `MIME Type`, `readFile` → `read File`, `utf8Text` → `utf8 Text`
    .replace(/(\p{Lu}+)(\p{Lu}\p{Ll})/gu, '$1 $2')
    .replace(/([\p{Ll}\p{N}])(\p{Lu})/gu, '$1 $2');
  const terms: string[] = [];
  for (const raw of spaced.toLowerCase().split(NON_WORD)) {
    if (raw === '' || STOP_WORDS.has(raw)) continue;
    if (raw.length === 1 && !/\p{N}/u.test(raw)) continue;
    terms.push(stemWord(raw));
  }
  return terms;
}

const VOWEL = /[aeiouy]/;

/**
 * Suffix stripping, applied once per word in this order: plurals (`ies` → `y`, `sses` → `ss`,
 * `xes`/`ches`/`shes`/`zes` → stem, else a final `s` unless `ss`/`us`/`is`), then `ied` → `y`,
 * `ing`/`ed` (the rest must keep a vowel and 3 letters; a doubled final consonant is undone), then a
 * final `e` on words longer than 3 letters (so `create`, `creates`, `created`, `creating` all give
 * `creat`). Not a full Porter stemmer: predictable beats clever here.
 */
function stemWord(word: string): string {
  let w = word;
  if (w.length > 4 && w.endsWith('ies')) w = `${w.slice(0, -3)}y`;
  else if (w.endsWith('sses')) w = w.slice(0, -2);
  else if (w.length > 4 && /(x|z|ch|sh)es$/.test(w)) w = w.slice(0, -2);
  else if (w.length > 3 && w.endsWith('s') && !/(ss|us|is)$/.test(w)) w = w.slice(0, -1);

  if (w.length > 4 && w.endsWith('ied')) w = `${w.slice(0, -3)}y`;
  else if (w.endsWith('ing')) w = stripVerbSuffix(w, 3);
  else if (w.endsWith('ed') && !w.endsWith('eed')) w = stripVerbSuffix(w, 2);

  if (w.length > 3 && w.endsWith('e') && !w.endsWith('ee')) w = w.slice(0, -1);
  return w;
}

function stripVerbSuffix(word: string, suffixLength: number): string {
  const stem = word.slice(0, -suffixLength);
  if (stem.length < 3 || !VOWEL.test(stem)) return word;
  // `running` → `run`, `logged` → `log`; but `add`, `pass`, `call`, `buzz` keep their double letter.
  if (stem.length > 3 && /([b-df-hj-km-np-rtv-xz])\1$/.test(stem) && !/(ll|ss|zz)$/.test(stem)) {
    return stem.slice(0, -1);
  }
  return stem;
}

const SYNONYMS: ReadonlyMap<string, readonly string[]> = (() => {
  const map = new Map<string, Set<string>>();
  for (const group of SYNONYM_GROUPS) {
    const stems = [...new Set(group.map(stemWord))];
    for (const stem of stems) {
      const set = map.get(stem) ?? new Set<string>();
      for (const other of stems) if (other !== stem) set.add(other);
      map.set(stem, set);
    }
  }
  return new Map([...map].map(([stem, set]) => [stem, [...set].sort()]));
})();

interface IndexedField {
  termFrequency: ReadonlyMap<string, number>;
  length: number;
}

interface IndexedTool {
  server: string;
  tool: string;
  fields: Readonly<Record<Field, IndexedField>>;
  nameTokens: readonly string[];
  /** The description calls the tool deprecated. */
  deprecated: boolean;
  /** Tool name and alias, lowercased with separators removed, for the exact and prefix boosts. */
  compactNames: readonly string[];
  /** Server name and alias, likewise, so `filesystem.read_file` names the tool too. */
  compactServers: readonly string[];
}

/**
 * Precomputed search data for one catalog; build it once per catalog with {@link buildSearchIndex}.
 * The lookup tables let a search visit only the tools a query can score, so its cost follows the
 * matches, not tools × query terms (a 2,000-character query over 2,000 tools took ~60 ms that way).
 */
export interface SearchIndex {
  readonly tools: readonly IndexedTool[];
  /** Number of tools each term occurs in, over all fields. */
  readonly documentFrequency: ReadonlyMap<string, number>;
  readonly averageFieldLength: Readonly<Record<Field, number>>;
  /** The tools each term occurs in (any field). */
  readonly postings: ReadonlyMap<string, readonly IndexedTool[]>;
  /** Every distinct name token, sorted (code-unit order), for prefix lookups by binary search. */
  readonly nameTokens: readonly string[];
  /** The tools whose name tokens include each token. */
  readonly byNameToken: ReadonlyMap<string, readonly IndexedTool[]>;
  /** The tools each compact name, or compact server + name, names exactly. */
  readonly byCompactName: ReadonlyMap<string, readonly IndexedTool[]>;
  /** Every distinct compact tool name and alias, sorted, for the name-prefix boost. */
  readonly compactNames: readonly string[];
  /** The tools of each compact tool name or alias. */
  readonly byOwnName: ReadonlyMap<string, readonly IndexedTool[]>;
  /** Every distinct compact server name and alias. */
  readonly compactServers: readonly string[];
  /** The longest compact server + name: a longer query cannot name or begin any tool. */
  readonly longestQualifiedName: number;
}

function countTerms(terms: readonly string[]): IndexedField {
  const termFrequency = new Map<string, number>();
  for (const term of terms) termFrequency.set(term, (termFrequency.get(term) ?? 0) + 1);
  return { termFrequency, length: terms.length };
}

function compact(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parameter names and their docs (description, title, string enum values), nested objects included. */
function collectParameters(schema: unknown, names: string[], docs: string[], depth: number): void {
  if (!isRecord(schema) || depth > MAX_SCHEMA_DEPTH) return;
  const properties = schema.properties;
  if (isRecord(properties)) {
    for (const [name, property] of Object.entries(properties)) {
      names.push(name);
      if (!isRecord(property)) continue;
      for (const key of ['description', 'title'] as const) {
        const text = property[key];
        if (typeof text === 'string') docs.push(text);
      }
      if (Array.isArray(property.enum)) {
        for (const value of property.enum) if (typeof value === 'string') docs.push(value);
      }
      collectParameters(property, names, docs, depth + 1);
    }
  }
  collectParameters(schema.items, names, docs, depth + 1);
}

function indexTool(server: ServerDescription, tool: ToolDescription): IndexedTool {
  const nameTokens = tokenize(tool.name);
  const aliasExtra = tokenize(tool.alias).filter((term) => !nameTokens.includes(term));
  const serverTokens = tokenize(server.name);
  const serverExtra = tokenize(server.alias).filter((term) => !serverTokens.includes(term));
  const paramNames: string[] = [];
  const paramDocs: string[] = [];
  collectParameters(tool.inputSchema, paramNames, paramDocs, 0);
  return {
    server: server.name,
    tool: tool.name,
    fields: {
      name: countTerms([...nameTokens, ...aliasExtra]),
      server: countTerms([...serverTokens, ...serverExtra]),
      description: countTerms(tokenize(tool.description ?? '')),
      params: countTerms(paramNames.flatMap(tokenize)),
      paramDocs: countTerms(paramDocs.flatMap(tokenize)),
    },
    nameTokens: [...nameTokens, ...aliasExtra],
    deprecated: /\bdeprecated\b/i.test(tool.description ?? ''),
    compactNames: [...new Set([compact(tool.name), compact(tool.alias)])],
    compactServers: [...new Set([compact(server.name), compact(server.alias)])],
  };
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Tokenizes every tool of every server once, and counts document frequencies over all tools. */
export function buildSearchIndex(servers: readonly ServerDescription[]): SearchIndex {
  const tools = servers.flatMap((server) => server.tools.map((tool) => indexTool(server, tool)));
  const documentFrequency = new Map<string, number>();
  const postings = new Map<string, IndexedTool[]>();
  const byNameToken = new Map<string, IndexedTool[]>();
  const byCompactName = new Map<string, IndexedTool[]>();
  const byOwnName = new Map<string, IndexedTool[]>();
  const compactServers = new Set<string>();
  let longestQualifiedName = 0;
  const totalLength: Record<Field, number> = { name: 0, server: 0, description: 0, params: 0, paramDocs: 0 };
  for (const tool of tools) {
    const seen = new Set<string>();
    for (const field of FIELDS) {
      totalLength[field] += tool.fields[field].length;
      for (const term of tool.fields[field].termFrequency.keys()) seen.add(term);
    }
    for (const term of seen) {
      documentFrequency.set(term, (documentFrequency.get(term) ?? 0) + 1);
      push(postings, term, tool);
    }
    for (const token of new Set(tool.nameTokens)) push(byNameToken, token, tool);
    const names = new Set(tool.compactNames);
    for (const name of tool.compactNames) {
      for (const server of tool.compactServers) {
        names.add(server + name);
        longestQualifiedName = Math.max(longestQualifiedName, server.length + name.length);
      }
    }
    for (const name of names) push(byCompactName, name, tool);
    for (const name of tool.compactNames) push(byOwnName, name, tool);
    for (const server of tool.compactServers) compactServers.add(server);
  }
  const averageFieldLength = { ...totalLength };
  for (const field of FIELDS)
    averageFieldLength[field] = tools.length ? totalLength[field] / tools.length : 0;
  const sorted = (keys: Iterable<string>) => [...keys].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  return {
    tools,
    documentFrequency,
    averageFieldLength,
    postings,
    nameTokens: sorted(byNameToken.keys()),
    byNameToken,
    byCompactName,
    compactNames: sorted(byOwnName.keys()),
    byOwnName,
    compactServers: [...compactServers],
    longestQualifiedName,
  };
}

/** The strings of `sorted` that begin with `prefix` (and are longer, when `longer`), by binary search. */
function beginningWith(sorted: readonly string[], prefix: string, longer: boolean): string[] {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((sorted[middle] as string) < prefix) low = middle + 1;
    else high = middle;
  }
  const found: string[] = [];
  for (let i = low; i < sorted.length && (sorted[i] as string).startsWith(prefix); i++) {
    if (!longer || (sorted[i] as string).length > prefix.length) found.push(sorted[i] as string);
  }
  return found;
}

function inverseDocumentFrequency(index: SearchIndex, term: string): number {
  const n = index.tools.length;
  const df = index.documentFrequency.get(term) ?? 0;
  return Math.log(1 + (n - df + 0.5) / (df + 0.5));
}

function normalizedFrequency(index: SearchIndex, field: Field, data: IndexedField, tf: number): number {
  const average = index.averageFieldLength[field] || 1;
  const b = FIELD_LENGTH_NORM[field];
  return tf / (1 - b + (b * data.length) / average);
}

/** BM25F: field-weighted, length-normalised term frequency, saturated once across fields. */
function termScore(index: SearchIndex, tool: IndexedTool, term: string): number {
  let weighted = 0;
  for (const field of FIELDS) {
    const data = tool.fields[field];
    const tf = data.termFrequency.get(term);
    if (tf) weighted += FIELD_WEIGHT[field] * normalizedFrequency(index, field, data, tf);
  }
  if (weighted === 0) return 0;
  return (inverseDocumentFrequency(index, term) * weighted * (BM25_K1 + 1)) / (weighted + BM25_K1);
}

/** Credit for a query word that begins a name token but is not a whole one (`dir`, `env`). */
function prefixScore(index: SearchIndex, tool: IndexedTool, term: string): number {
  if (term.length < MIN_PREFIX_TOKEN_LENGTH) return 0;
  let best = 0;
  for (const token of tool.nameTokens) {
    if (token.length <= term.length || !token.startsWith(term)) continue;
    const data = tool.fields.name;
    const weighted = FIELD_WEIGHT.name * normalizedFrequency(index, 'name', data, 1);
    const score = (inverseDocumentFrequency(index, token) * weighted * (BM25_K1 + 1)) / (weighted + BM25_K1);
    best = Math.max(best, PREFIX_TOKEN_WEIGHT * score);
  }
  return best;
}

interface Concept {
  /** Stems the query itself used. */
  words: Set<string>;
  /** Their synonyms, scored at {@link SYNONYM_WEIGHT}. */
  synonyms: Set<string>;
}

/**
 * Query words that are synonyms of each other (`make a new folder`) form one concept, so a tool is not
 * paid twice for one idea. Each concept lists the words the query used, then their synonyms.
 */
function queryConcepts(terms: readonly string[]): Concept[] {
  const concepts: Concept[] = [];
  // Which concept a synonym belongs to, so grouping stays linear in the number of terms.
  const bySynonym = new Map<string, Concept>();
  for (const term of terms) {
    const same = bySynonym.get(term);
    if (same?.synonyms.has(term)) {
      same.words.add(term);
      same.synonyms.delete(term);
    } else {
      const concept: Concept = { words: new Set([term]), synonyms: new Set(SYNONYMS.get(term)) };
      concepts.push(concept);
      for (const synonym of concept.synonyms) if (!bySynonym.has(synonym)) bySynonym.set(synonym, concept);
    }
  }
  for (const concept of concepts) for (const word of concept.words) concept.synonyms.delete(word);
  return concepts;
}

function conceptScore(index: SearchIndex, tool: IndexedTool, concept: Concept): number {
  // The best reading counts, not the sum, so a word with many synonyms cannot dominate.
  let best = 0;
  for (const word of concept.words) best = Math.max(best, termScore(index, tool, word));
  for (const synonym of concept.synonyms) {
    best = Math.max(best, SYNONYM_WEIGHT * termScore(index, tool, synonym));
  }
  if (best > 0) return best;
  for (const word of concept.words) best = Math.max(best, prefixScore(index, tool, word));
  return best;
}

/** The query as typed, for the name boosts: whole, lowercased, separators removed, and what its words name. */
interface CompactQuery {
  whole: string;
  /** Tools one word of a query of several words names exactly (`use read_text_file for the log`). */
  namedByWord: ReadonlySet<IndexedTool>;
}

/** Whether `text` names the tool exactly, as `tool` or `server` + `tool`. */
function namesTool(tool: IndexedTool, text: string): boolean {
  if (text === '') return false;
  return (
    tool.compactNames.includes(text) ||
    tool.compactServers.some(
      (server) => text.startsWith(server) && tool.compactNames.includes(text.slice(server.length)),
    )
  );
}

/** Whether `text` begins the tool's name, alone or after a server name (`list_dir`, `filesystem.list_dir`). */
function beginsToolName(tool: IndexedTool, text: string): boolean {
  if (text.length < MIN_NAME_PREFIX_LENGTH) return false;
  const begins = (rest: string) => rest !== '' && tool.compactNames.some((name) => name.startsWith(rest));
  return (
    begins(text) ||
    tool.compactServers.some((server) => text.startsWith(server) && begins(text.slice(server.length)))
  );
}

function nameBoost(tool: IndexedTool, query: CompactQuery): number {
  if (namesTool(tool, query.whole)) return EXACT_NAME_BOOST;
  if (beginsToolName(tool, query.whole)) return NAME_PREFIX_BOOST;
  return query.namedByWord.has(tool) ? WORD_NAME_BOOST : 0;
}

function scoreTool(
  index: SearchIndex,
  tool: IndexedTool,
  concepts: readonly Concept[],
  query: CompactQuery,
): number {
  let score = 0;
  let matched = 0;
  for (const concept of concepts) {
    const value = conceptScore(index, tool, concept);
    score += value;
    if (value > 0) matched++;
  }
  // Coordination: a tool that answers more of the query's ideas beats one that answers one idea loudly.
  if (concepts.length > 1) score *= (matched / concepts.length) ** COORDINATION_EXPONENT;
  if (tool.deprecated) score *= DEPRECATED_FACTOR;
  return score + nameBoost(tool, query);
}

/**
 * The `limit` best tools for `query` (default 5), best first; equal scores are ordered by server
 * name, then tool name (code-unit order). Tools that match nothing are left out, so a blank query, a
 * query of stop words only, or a `limit` below 1 gives `[]`.
 */
export function searchTools(index: SearchIndex, query: string, limit = 5): SearchHit[] {
  const max = Math.floor(limit);
  if (!(max >= 1) || query.trim() === '') return [];
  const concepts = queryConcepts([...new Set(tokenize(query))].slice(0, MAX_QUERY_TERMS));
  const words = query
    .split(/\s+/)
    .map(compact)
    .filter((word) => word !== '');
  const namedByWord = new Set<IndexedTool>();
  if (words.length > 1) {
    for (const word of new Set(words))
      for (const tool of index.byCompactName.get(word) ?? []) namedByWord.add(tool);
  }
  const compactQuery: CompactQuery = { whole: compact(query), namedByWord };
  const hits: SearchHit[] = [];
  for (const tool of candidates(index, concepts, compactQuery)) {
    const score = Math.round(scoreTool(index, tool, concepts, compactQuery) * 1000) / 1000;
    if (score > 0) hits.push({ server: tool.server, tool: tool.tool, score });
  }
  // Plain code-unit comparison, not localeCompare: the order must not depend on the host's locale.
  hits.sort(
    (x, y) =>
      y.score - x.score ||
      (x.server < y.server ? -1 : x.server > y.server ? 1 : 0) ||
      (x.tool < y.tool ? -1 : x.tool > y.tool ? 1 : 0),
  );
  return hits.slice(0, max);
}

/**
 * Every tool that can score above 0: one holding a query word or synonym, one with a name token a
 * query word begins, and one the query or one of its words names or begins (the name boosts).
 */
function candidates(index: SearchIndex, concepts: readonly Concept[], query: CompactQuery): Set<IndexedTool> {
  const found = new Set<IndexedTool>(query.namedByWord);
  const add = (tools: readonly IndexedTool[] | undefined) => {
    for (const tool of tools ?? []) found.add(tool);
  };
  for (const concept of concepts) {
    for (const term of concept.words) add(index.postings.get(term));
    for (const term of concept.synonyms) add(index.postings.get(term));
    for (const word of concept.words) {
      if (word.length < MIN_PREFIX_TOKEN_LENGTH) continue;
      for (const token of beginningWith(index.nameTokens, word, true)) add(index.byNameToken.get(token));
    }
  }
  const { whole } = query;
  if (whole !== '' && whole.length <= index.longestQualifiedName) {
    add(index.byCompactName.get(whole));
    if (whole.length >= MIN_NAME_PREFIX_LENGTH) {
      for (const name of beginningWith(index.compactNames, whole, false)) add(index.byOwnName.get(name));
      for (const server of index.compactServers) {
        const rest = whole.slice(server.length);
        if (rest === '' || !whole.startsWith(server)) continue;
        for (const name of beginningWith(index.compactNames, rest, false)) add(index.byOwnName.get(name));
      }
    }
  }
  return found;
}
