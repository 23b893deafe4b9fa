/**
 * A Python tokenizer, enough to route programs (pure, unit-tested): names, numbers, strings (every
 * prefix, triple quotes, f-strings with their replacement fields tokenized too, nested quotes as
 * Python 3.12 allows), operators, and logical lines (brackets and backslashes join physical lines).
 * It never decides what is valid Python: Monty's parser and CPython do. A program it cannot read is
 * reported with `TokenizeError`, and the router then sends it to full Python.
 */

export type TokenType = 'name' | 'number' | 'string' | 'op';

export interface Token {
  type: TokenType;
  text: string;
  /** Offsets into the source: `start` inclusive, `end` exclusive. */
  start: number;
  end: number;
  /** 1-based line of the token's start. */
  line: number;
  /** Tokens of an f-string's replacement fields, in order (flattened across fields). */
  inner?: Token[];
}

/** One logical line: a statement or a compound statement's header (with what follows its colon). */
export interface LogicalLine {
  tokens: Token[];
  /** Column of the first token: 0 for a top-level statement. */
  indent: number;
  start: number;
  end: number;
  firstLine: number;
  lastLine: number;
}

export class TokenizeError extends Error {
  override readonly name = 'TokenizeError';
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

const OPERATORS = [
  '**=',
  '//=',
  '>>=',
  '<<=',
  '...',
  '->',
  ':=',
  '==',
  '!=',
  '<=',
  '>=',
  '**',
  '//',
  '<<',
  '>>',
  '+=',
  '-=',
  '*=',
  '/=',
  '%=',
  '&=',
  '|=',
  '^=',
  '@=',
];
const SINGLE_OPERATORS = new Set('+-*/%@&|^~<>()[]{},:;.=!');
const STRING_PREFIX = /^(?:[rRuUbBfFtT]|[bB][rR]|[rR][bB]|[fF][rR]|[rR][fF]|[tT][rR]|[rR][tT])?["']/;

interface Cursor {
  source: string;
  at: number;
  line: number;
}

export function tokenize(source: string): LogicalLine[] {
  const cursor: Cursor = { source, at: 0, line: 1 };
  const lines: LogicalLine[] = [];
  let current: Token[] = [];
  let depth = 0;
  let lineStart = 0;
  let indent = 0;
  let atLineStart = true;
  const endLine = (end: number) => {
    if (current.length > 0) {
      const first = current[0] as Token;
      const last = current[current.length - 1] as Token;
      lines.push({
        tokens: current,
        indent,
        start: first.start,
        end,
        firstLine: first.line,
        lastLine: last.line,
      });
    }
    current = [];
  };
  while (cursor.at < source.length) {
    const char = source[cursor.at] as string;
    if (char === '\n' || char === '\r') {
      const width = char === '\r' && source[cursor.at + 1] === '\n' ? 2 : 1;
      if (depth === 0) endLine(cursor.at);
      cursor.at += width;
      cursor.line++;
      lineStart = cursor.at;
      if (depth === 0) atLineStart = true;
      continue;
    }
    if (char === ' ' || char === '\t' || char === '\f') {
      cursor.at++;
      continue;
    }
    if (char === '#') {
      while (cursor.at < source.length && source[cursor.at] !== '\n' && source[cursor.at] !== '\r')
        cursor.at++;
      continue;
    }
    if (char === '\\') {
      const next = source[cursor.at + 1];
      if (next !== '\n' && next !== '\r')
        throw new TokenizeError('a backslash outside a string', cursor.line);
      cursor.at += next === '\r' && source[cursor.at + 2] === '\n' ? 3 : 2;
      cursor.line++;
      lineStart = cursor.at;
      continue;
    }
    if (atLineStart) {
      indent = cursor.at - lineStart;
      atLineStart = false;
    }
    const token = readToken(cursor);
    if (token.type === 'op') {
      if ('([{'.includes(token.text)) depth++;
      else if (')]}'.includes(token.text)) depth = Math.max(0, depth - 1);
    }
    current.push(token);
  }
  if (depth > 0) throw new TokenizeError('a bracket is never closed', cursor.line);
  endLine(source.length);
  return lines;
}

function readToken(cursor: Cursor): Token {
  const { source } = cursor;
  const start = cursor.at;
  const line = cursor.line;
  const rest = source.slice(start, start + 4);
  const prefix = STRING_PREFIX.exec(rest);
  if (prefix) return readString(cursor, prefix[0].length - 1);
  const char = source[start] as string;
  if (/[\p{L}\p{Nl}_]/u.test(char) || char.charCodeAt(0) > 127) {
    let end = start + 1;
    while (end < source.length && /[\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}_]/u.test(source[end] as string))
      end++;
    cursor.at = end;
    return { type: 'name', text: source.slice(start, end), start, end, line };
  }
  if (/[0-9]/.test(char) || (char === '.' && /[0-9]/.test(source[start + 1] ?? ''))) {
    const match =
      /^(?:0[xXoObB][0-9a-fA-F_]+|(?:[0-9][0-9_]*\.?[0-9_]*|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9_]+)?[jJ]?)/.exec(
        source.slice(start, start + 400),
      );
    const end = start + (match?.[0].length || 1);
    cursor.at = end;
    return { type: 'number', text: source.slice(start, end), start, end, line };
  }
  for (const operator of OPERATORS) {
    if (source.startsWith(operator, start)) {
      cursor.at = start + operator.length;
      return { type: 'op', text: operator, start, end: cursor.at, line };
    }
  }
  if (SINGLE_OPERATORS.has(char)) {
    cursor.at = start + 1;
    return { type: 'op', text: char, start, end: cursor.at, line };
  }
  throw new TokenizeError(`an unexpected character ${JSON.stringify(char)}`, line);
}

/** A string literal from its prefix; f- and t-strings also yield the tokens of their fields. */
function readString(cursor: Cursor, prefixLength: number): Token {
  const { source } = cursor;
  const start = cursor.at;
  const line = cursor.line;
  const prefix = source.slice(start, start + prefixLength).toLowerCase();
  const raw = prefix.includes('r');
  const formatted = prefix.includes('f') || prefix.includes('t');
  const quoteChar = source[start + prefixLength] as string;
  const triple = source.startsWith(quoteChar.repeat(3), start + prefixLength);
  const quote = triple ? quoteChar.repeat(3) : quoteChar;
  cursor.at = start + prefixLength + quote.length;
  const inner: Token[] = [];
  for (;;) {
    if (cursor.at >= source.length) throw new TokenizeError('a string is never closed', line);
    const char = source[cursor.at] as string;
    if (source.startsWith(quote, cursor.at)) {
      cursor.at += quote.length;
      break;
    }
    if (char === '\\') {
      if (source[cursor.at + 1] === '\n') cursor.line++;
      cursor.at += 2;
      continue;
    }
    if (char === '\n') {
      if (!triple) throw new TokenizeError('a string is never closed', line);
      cursor.line++;
    }
    if (formatted && char === '{') {
      if (source[cursor.at + 1] === '{') {
        cursor.at += 2;
        continue;
      }
      cursor.at++;
      inner.push(...readField(cursor));
      continue;
    }
    cursor.at++;
  }
  void raw;
  return {
    type: 'string',
    text: source.slice(start, cursor.at),
    start,
    end: cursor.at,
    line,
    ...(formatted ? { inner } : {}),
  };
}

/** The tokens of one replacement field, up to its closing brace (a format spec may hold fields too). */
function readField(cursor: Cursor): Token[] {
  const { source } = cursor;
  const tokens: Token[] = [];
  let depth = 0;
  for (;;) {
    if (cursor.at >= source.length) throw new TokenizeError('an f-string field is never closed', cursor.line);
    const char = source[cursor.at] as string;
    if (char === ' ' || char === '\t' || char === '\n' || char === '\r') {
      if (char === '\n') cursor.line++;
      cursor.at++;
      continue;
    }
    if (depth === 0 && char === '}') {
      cursor.at++;
      return tokens;
    }
    if (depth === 0 && (char === ':' || char === '!') && source[cursor.at + 1] !== '=') {
      // Conversion or format spec: literal text with possible nested fields, up to the closing brace.
      cursor.at++;
      while (cursor.at < source.length && source[cursor.at] !== '}') {
        if (source[cursor.at] === '{') {
          cursor.at++;
          tokens.push(...readField(cursor));
        } else {
          if (source[cursor.at] === '\n') cursor.line++;
          cursor.at++;
        }
      }
      continue;
    }
    const token = readToken(cursor);
    if (token.type === 'op') {
      if ('([{'.includes(token.text)) depth++;
      else if (')]}'.includes(token.text)) depth--;
    }
    tokens.push(token);
  }
}

/** Every token of the program, f-string fields included, in source order. */
export function allTokens(lines: readonly LogicalLine[]): Token[] {
  const out: Token[] = [];
  const add = (tokens: readonly Token[]) => {
    for (const token of tokens) {
      out.push(token);
      if (token.inner) add(token.inner);
    }
  };
  for (const line of lines) add(line.tokens);
  return out;
}
