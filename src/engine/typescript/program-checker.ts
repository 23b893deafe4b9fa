/**
 * Type-checks a TypeScript program against the runtime's declaration (runtime/typescript/mcp.d.ts)
 * and the declarations of the servers granted to its run (declarations.ts), before it runs.
 *
 * One long-lived LanguageService: the standard library and each server's declaration are parsed once
 * and kept (a server's file is keyed by its declaration's text, so a changed grant reparses only what
 * changed); each check replaces the program file only. TypeScript is ~9 MB of JavaScript and its
 * first check parses the library: callers keep this off the bridge's thread (check-service.ts).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type ts from 'typescript';

const require = createRequire(import.meta.url);

/** What the program's errors name it (the runtime's tracebacks say the same). */
export const PROGRAM_FILE = 'program.ts';
const ROOT = '/codemode/';
const PROGRAM_PATH = `${ROOT}${PROGRAM_FILE}`;
const RUNTIME_PATH = `${ROOT}mcp.d.ts`;
/**
 * Where the checker sees the standard library. Not its real path: a file under `node_modules` makes
 * every program rebuild look for the package.json above it (to decide its module format, which a
 * global declaration file does not need), a fifth of a warm check when measured.
 */
const LIBRARY_DIR = `${ROOT}lib/`;
/** Errors reported per check; more are counted, not listed. */
const MAX_DIAGNOSTICS = 20;
const MAX_MESSAGE_CHARS = 1000;
/** Server declarations kept between checks (a few KB to 256 KB of text each, and their parse). */
const MAX_KEPT_SERVERS = 64;

/**
 * The options programs are checked with, as a tsconfig's `compilerOptions` (so they serialize into a
 * verdict cache's key): the language's library and no DOM or Node (mcp.d.ts declares what Deno
 * offers), strict except that a parameter may go without a type.
 */
const CHECK_OPTIONS = {
  target: 'ES2022',
  module: 'ESNext',
  moduleResolution: 'Bundler',
  // Every program is a module (top-level await) whether or not it imports or exports anything.
  moduleDetection: 'force',
  lib: ['es2023'],
  types: [],
  strict: true,
  noImplicitAny: false,
  noEmit: true,
  skipLibCheck: true,
  allowImportingTsExtensions: true,
} as const;

/**
 * Everything besides a check's inputs (the program and its grant's declarations) that decides its
 * answer: TypeScript's version (read from its package.json, without loading it), the options, the
 * report's limits and the runtime's declaration. A cached verdict is keyed by it.
 */
export function checkerIdentity(runtimeDeclaration: string): string {
  const { version } = require('typescript/package.json') as { version: string };
  return JSON.stringify([version, CHECK_OPTIONS, MAX_DIAGNOSTICS, MAX_MESSAGE_CHARS, runtimeDeclaration]);
}

/** One error in the program, 1-based like an editor shows it. */
export interface TypeDiagnostic {
  line: number;
  column: number;
  /** TypeScript's error number (TS2345 → 2345). */
  code: number;
  message: string;
}

export interface CheckResult {
  diagnostics: TypeDiagnostic[];
  /** Errors beyond the listed ones. */
  omitted: number;
}

/** A server's declaration, keyed by what identifies its text (a digest, or the text itself). */
export interface DeclarationFile {
  key: string;
  text: string;
}

interface ScriptEntry {
  text: string;
  version: number;
  snapshot: ts.IScriptSnapshot;
}

function compilerOptions(typescript: typeof ts): ts.CompilerOptions {
  const { options, errors } = typescript.convertCompilerOptionsFromJson(CHECK_OPTIONS, ROOT);
  if (errors.length > 0) {
    throw new Error(
      `the checker's options are invalid: ${typescript.flattenDiagnosticMessageText(errors[0]?.messageText, '\n')}`,
    );
  }
  return options;
}

export class ProgramChecker {
  readonly #ts: typeof ts;
  readonly #service: ts.LanguageService;
  readonly #libDir: string;
  readonly #files = new Map<string, ScriptEntry>();
  /** The server declarations of the current grant, by path. */
  #grant: string[] = [];
  /** Server declarations kept, least recently used first. */
  readonly #recent = new Set<string>();
  #programVersion = 0;

  /** `runtimeDeclaration`: the text of runtime/typescript/mcp.d.ts. */
  constructor(runtimeDeclaration: string) {
    this.#ts = require('typescript') as typeof ts;
    this.#libDir = dirname(require.resolve('typescript/lib/lib.d.ts'));
    this.#setFile(RUNTIME_PATH, runtimeDeclaration);
    const typescript = this.#ts;
    const options = compilerOptions(typescript);
    const host: ts.LanguageServiceHost = {
      getCompilationSettings: () => options,
      getScriptFileNames: () => [RUNTIME_PATH, ...this.#grant, PROGRAM_PATH],
      getScriptVersion: (path) => String(this.#files.get(path)?.version ?? 0),
      getScriptSnapshot: (path) => this.#snapshot(path),
      getCurrentDirectory: () => ROOT,
      getDefaultLibFileName: () => `${LIBRARY_DIR}lib.d.ts`,
      useCaseSensitiveFileNames: () => true,
      fileExists: (path) => this.#files.has(path) || this.#isLibrary(path),
      directoryExists: (path) => `${path}/`.startsWith(ROOT),
      readFile: (path) => this.#files.get(path)?.text ?? this.#readLibrary(path),
      // A program's `import` of anything resolves to nothing (the sandbox cannot import either).
      resolveModuleNameLiterals: (literals) => literals.map(() => ({ resolvedModule: undefined })),
    };
    this.#service = typescript.createLanguageService(host, typescript.createDocumentRegistry());
  }

  /** Checks `code` with `grant` (one declaration per granted server). */
  check(code: string, grant: readonly DeclarationFile[]): CheckResult {
    const paths: string[] = [];
    for (const declaration of grant) {
      const path = `${ROOT}servers/${encodeURIComponent(declaration.key)}.d.ts`;
      // A key names one text; should a caller reuse it for another, the file follows the text.
      const kept = this.#files.get(path);
      if (kept?.text !== declaration.text) this.#setFile(path, declaration.text, (kept?.version ?? 0) + 1);
      paths.push(path);
    }
    this.#remember(paths);
    this.#grant = paths;
    this.#setFile(PROGRAM_PATH, code, ++this.#programVersion);
    const found = [
      ...this.#service.getSyntacticDiagnostics(PROGRAM_PATH),
      ...this.#service.getSemanticDiagnostics(PROGRAM_PATH),
    ];
    const diagnostics = found.slice(0, MAX_DIAGNOSTICS).map((diagnostic) => this.#describe(diagnostic));
    return { diagnostics, omitted: Math.max(0, found.length - MAX_DIAGNOSTICS) };
  }

  #describe(diagnostic: ts.Diagnostic): TypeDiagnostic {
    const position =
      diagnostic.file && diagnostic.start !== undefined
        ? diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start)
        : { line: 0, character: 0 };
    let message = this.#ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    if (message.length > MAX_MESSAGE_CHARS) message = `${message.slice(0, MAX_MESSAGE_CHARS)}…`;
    return { line: position.line + 1, column: position.character + 1, code: diagnostic.code, message };
  }

  /**
   * Keeps the texts of the last `MAX_KEPT_SERVERS` servers used, so clients that alternate grants do not
   * rebuild theirs, and memory follows the grants in use.
   */
  #remember(paths: readonly string[]): void {
    for (const path of paths) this.#recent.delete(path);
    for (const path of paths) this.#recent.add(path);
    for (const path of this.#recent) {
      if (this.#recent.size <= MAX_KEPT_SERVERS) break;
      this.#recent.delete(path);
      this.#files.delete(path);
    }
  }

  #setFile(path: string, text: string, version = 1): void {
    this.#files.set(path, { text, version, snapshot: this.#ts.ScriptSnapshot.fromString(text) });
  }

  #snapshot(path: string): ts.IScriptSnapshot | undefined {
    const entry = this.#files.get(path);
    if (entry) return entry.snapshot;
    const text = this.#readLibrary(path);
    if (text === undefined) return undefined;
    this.#setFile(path, text);
    return this.#files.get(path)?.snapshot;
  }

  #isLibrary(path: string): boolean {
    return path.startsWith(LIBRARY_DIR) && /^lib\.[\w.]+\.d\.ts$/.test(path.slice(LIBRARY_DIR.length));
  }

  #readLibrary(path: string): string | undefined {
    if (!this.#isLibrary(path)) return undefined;
    try {
      return readFileSync(join(this.#libDir, path.slice(LIBRARY_DIR.length)), 'utf8');
    } catch {
      return undefined;
    }
  }
}

/** The checked program's errors as one text, for the run's error: `program.ts:3:15 - error TS2345: …`. */
export function formatDiagnostics(result: CheckResult): string {
  const lines = result.diagnostics.map(
    (diagnostic) =>
      `${PROGRAM_FILE}:${diagnostic.line}:${diagnostic.column} - error TS${diagnostic.code}: ${diagnostic.message}`,
  );
  if (result.omitted > 0) lines.push(`… and ${result.omitted} more errors`);
  return lines.join('\n');
}
