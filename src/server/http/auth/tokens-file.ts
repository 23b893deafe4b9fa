/**
 * The tokens file (`MCP_BRIDGE_HTTP_TOKENS_FILE`): one principal per entry, for a team without an
 * identity provider. TOML when the name ends in `.toml`, else JSON:
 *
 *   [[tokens]]
 *   name = "alice"
 *   role = "admin"            # or "user", the default
 *   sha256 = "9f86d08…"       # the token's SHA-256 digest in hex (or `token = "…"`, the token itself)
 *
 * Checked with a zod schema; every mistake names the file, the line and the entry, and the bridge does
 * not start (a half-read tokens file would lock people out or let the wrong one in).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { ROLES, type Role } from '../../../engine/principal.js';
import { describePath, jsonLineOf, tomlLineOf, type ValuePath } from '../../../shared/file-lines.js';

/** A token shorter than this is refused: it would be guessable. The same rule as MCP_BRIDGE_HTTP_TOKEN's. */
export const MIN_TOKEN_CHARS = 16;
/** Principal names: what logs, the audit log and the console show, and what skills are kept under. */
export const PRINCIPAL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

export class TokensFileError extends Error {
  override readonly name = 'TokensFileError';
}

/** One principal of the file, its credential reduced to a digest. */
export interface TokenEntry {
  name: string;
  role: Role;
  /** SHA-256 of the token, 32 bytes. */
  digest: Buffer;
}

const entrySchema = z
  .strictObject({
    name: z
      .string({ error: 'expected the principal\'s name, e.g. "alice"' })
      .regex(
        PRINCIPAL_NAME_PATTERN,
        'expected 1-64 letters, digits, _ . @ or -, starting with a letter or digit',
      ),
    role: z.enum(ROLES, { error: 'expected "user" or "admin"' }).default('user'),
    token: z
      .string({ error: 'expected the token as a string' })
      .min(MIN_TOKEN_CHARS, `expected at least ${MIN_TOKEN_CHARS} characters (e.g. openssl rand -hex 32)`)
      .regex(/^\S+$/, 'expected no spaces')
      .optional(),
    sha256: z
      .string({ error: 'expected the hex SHA-256 digest of the token as a string' })
      .regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hex digits (printf %s "$TOKEN" | sha256sum prints them)')
      .optional(),
  })
  .superRefine((entry, context) => {
    if ((entry.token === undefined) === (entry.sha256 === undefined)) {
      context.addIssue({
        code: 'custom',
        path: entry.token === undefined ? [] : ['sha256'],
        message: 'give the token either as `token` or as its digest `sha256`, one of the two',
      });
    }
  });

const fileSchema = z.strictObject({
  tokens: z
    .array(entrySchema, { error: 'expected a list of [[tokens]] entries' })
    .min(1, 'expected at least one [[tokens]] entry'),
});

/** The digest a token is compared by (and stored as, in the file's `sha256`). */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Reads and checks the tokens file; throws `TokensFileError` naming file, line and entry. */
export function loadTokensFile(path: string): TokenEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new TokensFileError(`${path}: cannot read the tokens file: ${(error as Error).message}`);
  }
  return parseTokensFile(text, path);
}

/** Checks the text of a tokens file (`source` decides the format by its extension and names it). */
export function parseTokensFile(text: string, source: string): TokenEntry[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const toml = extname(source).toLowerCase() === '.toml';
  let doc: unknown;
  try {
    doc = toml ? parseToml(text) : JSON.parse(text);
  } catch (error) {
    const message = ((error as Error).message ?? String(error)).split('\n', 1)[0]?.replace(/\s+/g, ' ');
    const line = toml
      ? (error as { line?: number }).line
      : (() => {
          const at = /\(line (\d+) column \d+\)/.exec(message ?? '')?.[1];
          if (at !== undefined) return Number(at);
          const position = /at position (\d+)/.exec(message ?? '')?.[1];
          return position === undefined ? undefined : text.slice(0, Number(position)).split('\n').length;
        })();
    throw new TokensFileError(
      `${source}${line === undefined ? '' : `:${line}`}: not valid ${toml ? 'TOML' : 'JSON'}: ${message}`,
    );
  }
  const where = (path: ValuePath) => {
    const line = toml ? tomlLineOf(text, path) : jsonLineOf(text, path);
    return `${source}${line === undefined ? '' : `:${line}`}`;
  };
  const parsed = fileSchema.safeParse(doc);
  if (!parsed.success) {
    // Every mistake at once (a few at most), each where it is: one round of fixes, not one per start.
    const problems = parsed.error.issues.slice(0, 5).map((issue) => {
      const path = issue.path.filter(
        (part): part is string | number => typeof part === 'string' || typeof part === 'number',
      );
      if (issue.code === 'unrecognized_keys') {
        return `${where([...path, issue.keys[0] ?? ''])}: ${describePath(path) || '(top level)'}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}; ${path.length === 0 ? 'the file holds [[tokens]] entries' : 'an entry has name, role and token or sha256'}`;
      }
      return `${where(path)}: ${describePath(path) || '(top level)'}: ${issue.message}`;
    });
    throw new TokensFileError(problems.join('; '));
  }
  const entries: TokenEntry[] = [];
  parsed.data.tokens.forEach((entry, index) => {
    const digest =
      entry.sha256 !== undefined ? Buffer.from(entry.sha256, 'hex') : tokenDigest(entry.token as string);
    const sameName = entries.findIndex((other) => other.name === entry.name);
    if (sameName !== -1) {
      throw new TokensFileError(
        `${where(['tokens', index, 'name'])}: tokens[${index}].name: "${entry.name}" is also the name of tokens[${sameName}]; each principal has one entry`,
      );
    }
    const sameToken = entries.findIndex((other) => other.digest.equals(digest));
    if (sameToken !== -1) {
      throw new TokensFileError(
        `${where(['tokens', index])}: tokens[${index}]: the same token as tokens[${sameToken}] ("${entries[sameToken]?.name}"); give each principal its own`,
      );
    }
    entries.push({ name: entry.name, role: entry.role, digest });
  });
  return entries;
}
