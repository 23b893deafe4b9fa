/**
 * Whether a program fits the Monty tier, decided before it runs (pure, unit-tested), and the program
 * as the tier feeds it. Monty's own parser, which runs before the first statement, refuses what it
 * cannot parse (generators, `match`, class inheritance, `del`…); this checker adds what a parser
 * cannot see: modules and builtins Monty lacks, the parts of `mcp` only full Python offers (skills,
 * saved values, files, sessions' helpers), and constructs found to behave differently from CPython
 * (the differential test, test/e2e/monty-differential.test.ts, holds that list honest).
 *
 * The rewrite keeps every line where it was (tracebacks name the user's lines): `import mcp.runtime
 * as rt` becomes `rt = __codemode_mcp.runtime` in place, and a final expression statement is bound
 * and printed by a line appended after the program, as the container runtime prints it.
 */
import { TIER_ERROR_NAMES, TIER_MCP_NAMES, TIER_RUNTIME_HELPERS } from './mcp-surface.js';
import { BUILTIN_METHODS, MISSING_MODULE_ATTRIBUTES } from './monty-gaps.js';
import { allTokens, type LogicalLine, type Token, TokenizeError, tokenize } from './python-tokens.js';

/** The standard library modules Monty 0.0.23 has (probed with `import <name>` over `sys.stdlib_module_names`). */
export const MONTY_MODULES: ReadonlySet<string> = new Set([
  'asyncio',
  'base64',
  'binascii',
  'collections',
  'dataclasses',
  'datetime',
  'functools',
  'itertools',
  'json',
  'math',
  're',
  'sys',
  'typing',
  'unicodedata',
  '__future__',
]);

/** CPython builtins Monty 0.0.23 lacks (probed one by one). */
const MISSING_BUILTINS: ReadonlySet<string> = new Set([
  'input',
  'exec',
  'eval',
  'compile',
  'globals',
  'locals',
  'vars',
  'dir',
  'help',
  '__import__',
  'memoryview',
  'bytearray',
  'classmethod',
  'staticmethod',
  'super',
  'issubclass',
  'callable',
  'breakpoint',
  'aiter',
  'anext',
  'format',
  'ascii',
  'complex',
  'delattr',
  'open',
  'NameError',
  'GeneratorExit',
]);

/** Globals only full Python's `mcp` runtime provides. */
const FULL_PYTHON_GLOBALS: ReadonlySet<string> = new Set(['save_tool', 'delete_skill']);

/** Helpers that answer without `await` in the container for a granted server; the tier needs the `await`. */
const AWAIT_REQUIRED = new Set(['describe_server', 'list_tools']);

export type SubsetVerdict =
  | { fits: true; code: string }
  | {
      fits: false;
      /** The construct, as the program wrote it: `import csv`, `open(...)`, `mcp.runtime.save`. */
      construct: string;
      /** Why the tier cannot run it, in a sentence. */
      why: string;
      line?: number;
    };

export interface SubsetContext {
  /** Names of the saved skills (a program may call one by name). */
  skills: readonly string[];
}

class Unfit extends Error {
  constructor(
    readonly construct: string,
    readonly why: string,
    readonly line: number | undefined,
  ) {
    super(construct);
  }
}

export function checkSubset(code: string, context: SubsetContext): SubsetVerdict {
  try {
    return { fits: true, code: new Checker(code, context).run() };
  } catch (error) {
    if (error instanceof Unfit) {
      return {
        fits: false,
        construct: error.construct,
        why: error.why,
        ...(error.line ? { line: error.line } : {}),
      };
    }
    if (error instanceof TokenizeError) {
      return {
        fits: false,
        construct: 'this program',
        why: `the router could not read it (${error.message}), so full Python decides`,
        line: error.line,
      };
    }
    throw error;
  }
}

interface Replacement {
  start: number;
  end: number;
  text: string;
}

class Checker {
  readonly #code: string;
  readonly #skills: ReadonlySet<string>;
  readonly #lines: LogicalLine[];
  readonly #tokens: Token[];
  readonly #replacements: Replacement[] = [];
  /** Names bound to `mcp.runtime` by the program's imports (`rt` in `import mcp.runtime as rt`). */
  readonly #runtimeNames = new Set<string>();
  /** Names bound to Monty's modules by the program's imports (`aio` → `asyncio`). */
  readonly #moduleNames = new Map<string, string>();

  constructor(code: string, context: SubsetContext) {
    this.#code = code;
    this.#skills = new Set(context.skills);
    this.#lines = tokenize(code);
    this.#tokens = allTokens(this.#lines);
  }

  run(): string {
    for (const line of this.#lines) this.#imports(line);
    this.#names();
    this.#gatheredTry();
    return this.#rewrite();
  }

  /**
   * Monty 0.0.23 raises a failed call's error at the `asyncio.gather` (or task) that runs a coroutine,
   * not inside the coroutine's own `try`: a program that handles errors inside gathered coroutines
   * needs CPython's semantics (found by the upstream suite: test/e2e/upstream.test.ts).
   */
  #gatheredTry(): void {
    const concurrent = this.#tokens.some((token) =>
      /^(?:gather|create_task|TaskGroup|wait|as_completed)$/.test(token.text),
    );
    if (!concurrent) return;
    let asyncIndent: number | undefined;
    for (const line of this.#lines) {
      if (asyncIndent !== undefined && line.indent <= asyncIndent) asyncIndent = undefined;
      const [first, second] = line.tokens;
      if (first?.text === 'async' && second?.text === 'def') {
        asyncIndent ??= line.indent;
        continue;
      }
      if (asyncIndent !== undefined && first?.text === 'try') {
        throw new Unfit(
          'try/except in a gathered coroutine',
          "Monty raises a failed call's error at the gather, not inside the coroutine",
          first.line,
        );
      }
    }
  }

  #imports(line: LogicalLine): void {
    const tokens = line.tokens;
    for (let index = 0; index < tokens.length; index++) {
      const token = tokens[index] as Token;
      if (token.type !== 'name' || !statementStart(tokens, index)) continue;
      if (token.text === 'import') index = this.#importStatement(tokens, index);
      else if (token.text === 'from' && tokens[index + 1]?.text !== '__future__')
        index = this.#fromStatement(tokens, index);
    }
  }

  /** `import a.b as c, d`; returns the index of the statement's last token. */
  #importStatement(tokens: Token[], at: number): number {
    const statement = statementTokens(tokens, at);
    const parts: string[] = [];
    let touchesMcp = false;
    for (const clause of splitTop(statement.slice(1), ',').filter((part) => part.length > 0)) {
      const asIndex = clause.findIndex((token) => token.text === 'as');
      const dotted = (asIndex === -1 ? clause : clause.slice(0, asIndex)).map((token) => token.text).join('');
      const alias = asIndex === -1 ? undefined : clause[asIndex + 1]?.text;
      const root = dotted.split('.')[0] ?? '';
      const line = clause[0]?.line ?? statement[0]?.line;
      if (root === 'mcp') {
        touchesMcp = true;
        parts.push(this.#mcpImport(dotted, alias, line));
      } else {
        this.#module(dotted, `import ${dotted}`, line);
        this.#moduleNames.set(alias ?? dotted, dotted);
        parts.push(`import ${dotted}${alias ? ` as ${alias}` : ''}`);
      }
    }
    if (touchesMcp) this.#replace(statement, parts.join('; '));
    return at + statement.length - 1;
  }

  /** `from x import a as b, c`; returns the index of the statement's last token. */
  #fromStatement(tokens: Token[], at: number): number {
    const statement = statementTokens(tokens, at);
    const importAt = statement.findIndex((token) => token.text === 'import');
    if (importAt === -1) return at;
    const module = statement
      .slice(1, importAt)
      .map((token) => token.text)
      .join('');
    const line = statement[0]?.line;
    if (module.startsWith('.'))
      throw new Unfit(`from ${module} import`, 'relative imports need a package, which Monty has not', line);
    const names = statement.slice(importAt + 1).filter((token) => token.text !== '(' && token.text !== ')');
    if (names.some((token) => token.text === '*')) {
      throw new Unfit(`from ${module} import *`, 'star imports are not in Monty', line);
    }
    const root = module.split('.')[0] ?? '';
    if (root !== 'mcp') {
      this.#module(module, `from ${module} import`, line);
      const missing = MISSING_MODULE_ATTRIBUTES[module];
      for (const clause of splitTop(names, ',')) {
        const name = clause[0]?.text;
        if (name && missing?.has(name)) {
          throw new Unfit(`from ${module} import ${name}`, `Monty's ${module} has no ${name}`, line);
        }
      }
      return at + statement.length - 1;
    }
    const assignments: string[] = [];
    for (const clause of splitTop(names, ',').filter((part) => part.length > 0)) {
      const name = clause[0]?.text ?? '';
      const asIndex = clause.findIndex((token) => token.text === 'as');
      const alias = asIndex === -1 ? name : (clause[asIndex + 1]?.text ?? name);
      const target = this.#mcpPath(`${module}.${name}`, `from ${module} import ${name}`, line);
      if (target === '__codemode_mcp.runtime') this.#runtimeNames.add(alias);
      assignments.push(`${alias} = ${target}`);
    }
    this.#replace(statement, assignments.join('; '));
    return at + statement.length - 1;
  }

  /** The assignment an `import mcp…` clause becomes. */
  #mcpImport(dotted: string, alias: string | undefined, line: number | undefined): string {
    const target = this.#mcpPath(dotted, `import ${dotted}`, line);
    if (alias === undefined) {
      // `import mcp.runtime` binds `mcp`, as Python does.
      if (dotted === 'mcp.runtime') this.#runtimeNames.add('mcp.runtime');
      return 'mcp = __codemode_mcp';
    }
    if (target === '__codemode_mcp.runtime') this.#runtimeNames.add(alias);
    return `${alias} = ${target}`;
  }

  /** Where an `mcp` module path points on the tier; throws `Unfit` for what only full Python has. */
  #mcpPath(dotted: string, construct: string, line: number | undefined): string {
    const parts = dotted.split('.');
    if (parts.length === 1) return '__codemode_mcp';
    const [, second, third, ...rest] = parts;
    if (second === 'runtime') {
      if (third === undefined) return '__codemode_mcp.runtime';
      if (third === 'MCPError' && rest.length === 0) return 'RuntimeError';
      if (rest.length === 0 && (TIER_RUNTIME_HELPERS as readonly string[]).includes(third)) {
        return `__codemode_mcp.runtime.${third}`;
      }
      throw new Unfit(construct, `mcp.runtime.${third} is served by full Python only`, line);
    }
    if (
      second !== undefined &&
      (TIER_ERROR_NAMES as readonly string[]).includes(second) &&
      third === undefined
    ) {
      return 'RuntimeError';
    }
    if (second === 'servers') return ['__codemode_mcp.servers', third, ...rest].filter(Boolean).join('.');
    if (
      second !== undefined &&
      (TIER_MCP_NAMES as readonly string[]).includes(second) &&
      third === undefined
    ) {
      return `__codemode_mcp.${second}`;
    }
    throw new Unfit(construct, `mcp.${second} is served by full Python only`, line);
  }

  #module(dotted: string, construct: string, line: number | undefined): void {
    if (dotted === 'skills' || dotted.startsWith('skills.')) {
      throw new Unfit(construct, 'saved skills run on full Python', line);
    }
    if (dotted.includes('.') || !MONTY_MODULES.has(dotted)) {
      throw new Unfit(construct, `the module ${dotted} is not in Monty's standard library`, line);
    }
  }

  /** Names, attributes and calls the tier cannot serve, anywhere in the program. */
  #names(): void {
    const tokens = this.#tokens;
    const mentionsToolError = tokens.some((token) => /^(?:ToolError|MCPError|PolicyError)$/.test(token.text));
    // A program that catches errors of `mcp` calls may print their type, which is ToolError in full Python.
    const namesErrors =
      mentionsToolError ||
      (tokens.some((token) => token.text === 'except') &&
        tokens.some((token) => token.type === 'name' && /^(?:mcp|mcp_\w+)$/.test(token.text)));
    // A failed lookup (`describe_server`, `query_tool_docs`…) raises an error that is both a KeyError
    // and a ToolError in the container runtime; on Monty it is a RuntimeError only.
    const catchesKeyError = tokens.some((token) => token.text === 'KeyError');
    for (let index = 0; index < tokens.length; index++) {
      const token = tokens[index] as Token;
      const previous = tokens[index - 1];
      const next = tokens[index + 1];
      const afterDot = previous?.text === '.';
      if (token.type === 'string' && next?.text === '%') {
        throw new Unfit(
          '"…" % values',
          'printf-style formatting of strings is not in Monty; use an f-string',
          token.line,
        );
      }
      if (token.type !== 'name') continue;
      const name = token.text;
      if (afterDot) {
        this.#attribute(tokens, index, mentionsToolError, namesErrors);
        continue;
      }
      if (MISSING_BUILTINS.has(name) && !definedByProgram(tokens, name)) {
        throw new Unfit(`${name}`, `the builtin ${name} is not in Monty`, token.line);
      }
      if (FULL_PYTHON_GLOBALS.has(name)) throw new Unfit(name, "saving skills is full Python's", token.line);
      if (this.#skills.has(name) && !definedByProgram(tokens, name)) {
        throw new Unfit(name, `the saved skill ${name} runs on full Python`, token.line);
      }
      if (name === 'PolicyError') {
        throw new Unfit(
          'mcp.PolicyError',
          'on Monty a policy refusal is a RuntimeError; full Python tells it apart',
          token.line,
        );
      }
      if (name === 'round' && next?.text === '(' && hasTopLevelComma(tokens, index + 1)) {
        throw new Unfit(
          'round(x, ndigits)',
          'Monty rounds decimal digits differently from CPython',
          token.line,
        );
      }
      if (name === 'print' && next?.text === '(' && callHasKeyword(tokens, index + 1, 'file')) {
        throw new Unfit('print(..., file=...)', 'Monty prints to stdout only', token.line);
      }
      if (name === 'mcp_servers' && next?.text === '[') {
        const close = matching(tokens, index + 1);
        if (tokens[close + 1]?.text === '.') {
          throw new Unfit(
            'mcp_servers[name].tool',
            'on Monty a server in mcp_servers is a dict: mcp_servers[name][tool]',
            token.line,
          );
        }
      }
      if (this.#runtimeNames.has(name) || name === 'mcp') this.#runtimeUse(tokens, index, catchesKeyError);
    }
  }

  #attribute(tokens: Token[], index: number, mentionsToolError: boolean, namesErrors: boolean): void {
    const token = tokens[index] as Token;
    const name = token.text;
    const base = tokens[index - 2];
    const module = base && tokens[index - 3]?.text !== '.' ? this.#moduleNames.get(base.text) : undefined;
    if (module) {
      if (MISSING_MODULE_ATTRIBUTES[module]?.has(name)) {
        throw new Unfit(`${module}.${name}`, `Monty's ${module} has no ${name}`, token.line);
      }
      if (module === 'sys' && (name === 'stdout' || name === 'stderr')) {
        throw new Unfit(`sys.${name}`, 'Monty has no sys.stdout/sys.stderr streams', token.line);
      }
      if (module === 'sys' && /^(?:platform|version|version_info|implementation)$/.test(name)) {
        throw new Unfit(
          `sys.${name}`,
          'Monty describes itself there; full Python describes the sandbox',
          token.line,
        );
      }
      return;
    }
    // Taken as a value: passed on (`key=d.get`, `map(str.upper, xs)`) or bound (`f = d.get`). An
    // attribute followed by anything else (`self.items.append`, `order.count += 1`) is left alone: it
    // is a program's own object more often than not.
    const next = tokens[index + 1];
    const asValue = next === undefined || next.text === ',' || next.text === ')' || next.line > token.line;
    const ownObject = base !== undefined && /^(?:self|cls|mcp_\w+|__codemode_mcp|mcp)$/.test(base.text);
    if (asValue && !ownObject && BUILTIN_METHODS.has(name) && !this.#ownAttributes().has(name)) {
      throw new Unfit(
        `.${name} as a value`,
        'Monty calls a method of a builtin type but cannot take it as a value',
        token.line,
      );
    }
    if ((TIER_ERROR_NAMES as readonly string[]).includes(name)) {
      this.#errorClass(tokens, index);
      return;
    }
    if (name === 'PolicyError') {
      throw new Unfit(
        'mcp.PolicyError',
        'on Monty a policy refusal is a RuntimeError; full Python tells it apart',
        token.line,
      );
    }
    if (name === 'raw')
      throw new Unfit(
        '.raw(...)',
        'raw tool results on Monty come from mcp.runtime.call_tool(..., raw=True)',
        token.line,
      );
    if ((name === 'stdout' || name === 'stderr') && tokens[index - 2]?.text === 'sys') {
      throw new Unfit(`sys.${name}`, 'Monty has no sys.stdout/sys.stderr streams', token.line);
    }
    if (mentionsToolError && /^(?:code|rule|server|tool)$/.test(name)) {
      throw new Unfit(
        `error.${name}`,
        'on Monty a ToolError is a RuntimeError without .code/.server/.tool',
        token.line,
      );
    }
    if (namesErrors && /^__(?:name|qualname|class|module)__$/.test(name)) {
      throw new Unfit(
        `${name} of an error`,
        "on Monty a failed call's error is a RuntimeError; full Python names it ToolError",
        token.line,
      );
    }
  }

  #owned: Set<string> | undefined;

  /** Attributes the program gives its own objects (`self.items = …`, `def items(self)`, a dataclass field). */
  #ownAttributes(): Set<string> {
    if (this.#owned) return this.#owned;
    const owned = new Set<string>();
    const tokens = this.#tokens;
    for (let at = 0; at < tokens.length; at++) {
      const token = tokens[at] as Token;
      if (token.type !== 'name') continue;
      if (tokens[at - 1]?.text === '.' && tokens[at + 1]?.text === '=') owned.add(token.text);
      if (tokens[at - 1]?.text === 'def') owned.add(token.text);
    }
    for (const line of this.#lines) {
      // `name: type` at a class body's depth (a dataclass field) names an attribute too.
      const [first, second] = line.tokens;
      if (line.indent > 0 && first?.type === 'name' && second?.text === ':' && line.tokens.length > 2)
        owned.add(first.text);
    }
    this.#owned = owned;
    return owned;
  }

  /** `mcp.ToolError`, `rt.MCPError`, `mcp.runtime.MCPError` become `RuntimeError` (see TIER_ERROR_NAMES). */
  #errorClass(tokens: Token[], index: number): void {
    const base = tokens[index - 2];
    if (!base) return;
    let start: Token | undefined;
    if (base.text === 'mcp' || base.text === '__codemode_mcp' || this.#runtimeNames.has(base.text))
      start = base;
    else if (
      base.text === 'runtime' &&
      tokens[index - 3]?.text === '.' &&
      tokens[index - 4]?.text === 'mcp'
    ) {
      start = tokens[index - 4];
    }
    if (!start || tokens[tokens.indexOf(start) - 1]?.text === '.') return;
    const end = tokens[index] as Token;
    this.#replacements.push({ start: start.start, end: end.end, text: 'RuntimeError' });
  }

  /** `rt.helper(...)` / `mcp.runtime.helper(...)`: a helper the tier serves, awaited where it must be. */
  #runtimeUse(tokens: Token[], index: number, catchesKeyError = false): void {
    let at = index;
    const base = (tokens[at] as Token).text;
    if (base === 'mcp') {
      if (tokens[at + 1]?.text !== '.' || tokens[at + 2]?.text !== 'runtime') {
        const member = tokens[at + 1]?.text === '.' ? tokens[at + 2]?.text : undefined;
        const served = [...TIER_MCP_NAMES, ...TIER_ERROR_NAMES, 'PolicyError'] as readonly string[];
        if (member && !served.includes(member)) {
          throw new Unfit(`mcp.${member}`, `mcp.${member} is served by full Python only`, tokens[at]?.line);
        }
        return;
      }
      at += 2;
    }
    if (tokens[at + 1]?.text !== '.') return;
    const helper = tokens[at + 2];
    if (helper?.type !== 'name') return;
    if (!(TIER_RUNTIME_HELPERS as readonly string[]).includes(helper.text) && helper.text !== 'MCPError') {
      throw new Unfit(
        `mcp.runtime.${helper.text}`,
        `mcp.runtime.${helper.text} is served by full Python only`,
        helper.line,
      );
    }
    if (catchesKeyError && helper.text !== 'call_tool' && helper.text !== 'MCPError') {
      throw new Unfit(
        'except KeyError around mcp.runtime lookups',
        'on Monty a failed lookup is a RuntimeError (mcp.ToolError), not also a KeyError',
        helper.line,
      );
    }
    if (AWAIT_REQUIRED.has(helper.text) && tokens[index - 1]?.text !== 'await') {
      throw new Unfit(
        `mcp.runtime.${helper.text}(...) without await`,
        'on Monty it must be awaited',
        helper.line,
      );
    }
  }

  #replace(statement: Token[], text: string): void {
    const first = statement[0] as Token;
    const last = statement[statement.length - 1] as Token;
    // Lines the statement spanned stay, blank, so everything after keeps its line number.
    const spanned = last.line - first.line;
    this.#replacements.push({ start: first.start, end: last.end, text: text + '\n'.repeat(spanned) });
  }

  #rewrite(): string {
    this.#finalExpression();
    let code = this.#code;
    let appended = '';
    for (const { start, end, text } of [...this.#replacements].sort((a, b) => b.start - a.start)) {
      if (start === end && start === code.length) appended = text + appended;
      else code = code.slice(0, start) + text + code.slice(end);
    }
    return code + appended;
  }

  /** A final expression statement is shown, as the container runtime shows it: `print(repr(value))`. */
  #finalExpression(): void {
    const topLevel = this.#lines.filter((line) => line.indent === 0);
    const last = topLevel[topLevel.length - 1];
    if (!last) return;
    const statements = splitTop(last.tokens, ';').filter((part) => part.length > 0);
    const statement = statements[statements.length - 1];
    if (!statement || !isExpressionStatement(statement)) return;
    const first = statement[0] as Token;
    this.#replacements.push({ start: first.start, end: first.start, text: '__codemode_value = ' });
    this.#replacements.push({
      start: this.#code.length,
      end: this.#code.length,
      text: `\nif __codemode_value is not None: print(repr(__codemode_value))\n`,
    });
  }
}

const STATEMENT_KEYWORDS = new Set(
  'assert async await break class continue def del elif else except finally for from global if import lambda nonlocal pass raise return try while with yield'.split(
    ' ',
  ),
);
const ASSIGNMENT_OPERATORS = new Set([
  '=',
  '+=',
  '-=',
  '*=',
  '/=',
  '//=',
  '%=',
  '**=',
  '>>=',
  '<<=',
  '&=',
  '|=',
  '^=',
  '@=',
]);

function isExpressionStatement(tokens: Token[]): boolean {
  const first = tokens[0] as Token;
  if (
    first.type === 'name' &&
    STATEMENT_KEYWORDS.has(first.text) &&
    first.text !== 'await' &&
    first.text !== 'lambda'
  ) {
    return false;
  }
  if (first.text === '@') return false;
  // `match x:` / `case y:` / `type X = …` open statements too; a colon or `=` at depth 0 says so.
  let depth = 0;
  let lambdas = 0;
  for (const token of tokens) {
    if (token.type === 'name' && token.text === 'lambda' && depth === 0) lambdas++;
    if (token.type !== 'op') continue;
    if ('([{'.includes(token.text)) depth++;
    else if (')]}'.includes(token.text)) depth--;
    else if (depth === 0 && ASSIGNMENT_OPERATORS.has(token.text)) return false;
    else if (depth === 0 && token.text === ':') {
      if (lambdas === 0) return false;
      lambdas--;
    }
  }
  return true;
}

/** Whether the token at `index` starts a statement (after a newline, `;`, or a compound header's `:`). */
function statementStart(tokens: Token[], index: number): boolean {
  if (index === 0) return true;
  const previous = tokens[index - 1] as Token;
  return previous.text === ';' || (previous.text === ':' && depthAt(tokens, index) === 0);
}

function depthAt(tokens: Token[], index: number): number {
  let depth = 0;
  for (let at = 0; at < index; at++) {
    const text = (tokens[at] as Token).text;
    if (text === '(' || text === '[' || text === '{') depth++;
    else if (text === ')' || text === ']' || text === '}') depth--;
  }
  return depth;
}

/** The tokens of the simple statement starting at `at`, up to a `;` at depth 0 or the line's end. */
function statementTokens(tokens: Token[], at: number): Token[] {
  let depth = 0;
  let end = at;
  for (; end < tokens.length; end++) {
    const text = (tokens[end] as Token).text;
    if (text === '(' || text === '[' || text === '{') depth++;
    else if (text === ')' || text === ']' || text === '}') depth--;
    else if (text === ';' && depth === 0) break;
  }
  return tokens.slice(at, end);
}

function splitTop(tokens: Token[], separator: string): Token[][] {
  const parts: Token[][] = [[]];
  let depth = 0;
  for (const token of tokens) {
    if ('([{'.includes(token.text) && token.type === 'op') depth++;
    else if (')]}'.includes(token.text) && token.type === 'op') depth--;
    if (token.text === separator && depth === 0 && token.type === 'op') parts.push([]);
    else (parts[parts.length - 1] as Token[]).push(token);
  }
  return parts;
}

/** The index of the bracket closing the one at `open`. */
function matching(tokens: Token[], open: number): number {
  let depth = 0;
  for (let at = open; at < tokens.length; at++) {
    const text = (tokens[at] as Token).text;
    if (text === '(' || text === '[' || text === '{') depth++;
    else if (text === ')' || text === ']' || text === '}') {
      depth--;
      if (depth === 0) return at;
    }
  }
  return tokens.length - 1;
}

function hasTopLevelComma(tokens: Token[], open: number): boolean {
  const close = matching(tokens, open);
  let depth = 0;
  for (let at = open + 1; at < close; at++) {
    const text = (tokens[at] as Token).text;
    if (text === '(' || text === '[' || text === '{') depth++;
    else if (text === ')' || text === ']' || text === '}') depth--;
    else if (text === ',' && depth === 0) return true;
  }
  return false;
}

function callHasKeyword(tokens: Token[], open: number, keyword: string): boolean {
  const close = matching(tokens, open);
  let depth = 0;
  for (let at = open + 1; at < close; at++) {
    const token = tokens[at] as Token;
    if ('([{'.includes(token.text)) depth++;
    else if (')]}'.includes(token.text)) depth--;
    else if (
      depth === 0 &&
      token.text === keyword &&
      tokens[at + 1]?.text === '=' &&
      tokens[at - 1]?.text !== '.'
    ) {
      return true;
    }
  }
  return false;
}

/** Whether the program binds `name` itself (`def name`, `name =`, a parameter, an import alias). */
function definedByProgram(tokens: Token[], name: string): boolean {
  for (let at = 0; at < tokens.length; at++) {
    const token = tokens[at] as Token;
    if (token.text !== name || token.type !== 'name') continue;
    const previous = tokens[at - 1]?.text;
    const next = tokens[at + 1]?.text;
    if (
      previous === 'def' ||
      previous === 'class' ||
      previous === 'as' ||
      previous === 'for' ||
      previous === 'import'
    )
      return true;
    if (next === '=' || (next === ',' && previous === 'for')) return true;
  }
  return false;
}
