/**
 * Recognises the bridge's own entry. Users typically register the bridge in the same client configs it
 * reads, and proxying itself would spawn bridges recursively.
 */
import path from 'node:path';
import type { UpstreamServerConfig } from './types.js';

const PACKAGE_NAME = 'codemode-bridge';
const SELF_NAMES: ReadonlySet<string> = new Set(['codemode-bridge', 'codemode']);
// A path segment or package spec naming the bridge: `codemode-bridge`, `codemode-bridge@latest`,
// `@scope/codemode-bridge@1.2.0` (split at `/`), a Windows shim `codemode-bridge.cmd`, or the tarball
// `npm pack` makes (`npx ./codemode-bridge-0.1.0.tgz`, the README's way to run it before it is published).
const SELF_SEGMENT =
  /^codemode-bridge((@[^/\\]*)?(\.(cmd|exe|ps1|js|mjs|cjs))?|-\d+\.\d+\.\d+[^/\\]*\.tgz)$/i;

// The reference bridge this one replaces (`uvx mcp-server-code-execution-mode`,
// `python mcp_server_code_execution_mode.py`): users moving over often still have it registered.
const ORIGINAL_SEGMENT = /^mcp[-_]server[-_]code[-_]execution[-_]mode((@|==)[^/\\]*)?(\.py)?$/i;

/** Options for {@link selfEntryReason}. */
export interface SelfEntryOptions {
  /** Path of the running bridge's entry script (e.g. `process.argv[1]`); compared after resolving. */
  selfPath?: string;
  /** Directory that relative paths in the entry are resolved against when it has no `cwd`. */
  cwd: string;
  /**
   * Proxy mcp-server-code-execution-mode anyway (`MCP_BRIDGE_ALLOW_SELF_SERVER=1`, the reference
   * bridge's own switch). The bridge itself is never proxied.
   */
  allowOriginal?: boolean;
}

/**
 * Says why `server` is the bridge itself, or returns `undefined` when it is not. An entry is the bridge
 * when its name is `codemode-bridge` or `codemode` (any case); when its command or any argument has a
 * path segment or package spec naming `codemode-bridge` (`npx -y codemode-bridge@latest`,
 * `node …/codemode-bridge/dist/cli/main.js`); or when its command or an argument resolves to `selfPath`.
 */
export function selfEntryReason(server: UpstreamServerConfig, options: SelfEntryOptions): string | undefined {
  if (SELF_NAMES.has(server.name.toLowerCase())) return `its name "${server.name}" is the bridge's`;
  if (server.transport !== 'stdio') return undefined;
  const words = [server.command, ...server.args];
  const named = words.find(namesBridge);
  if (named !== undefined) return `${JSON.stringify(named)} names ${PACKAGE_NAME}`;
  const original = options.allowOriginal ? undefined : words.find(namesOriginal);
  if (original !== undefined) {
    return (
      `${JSON.stringify(original)} is mcp-server-code-execution-mode, another code-execution bridge; ` +
      'its sandbox would run inside this one (set MCP_BRIDGE_ALLOW_SELF_SERVER=1 to proxy it anyway)'
    );
  }
  if (options.selfPath) {
    const self = path.resolve(options.selfPath);
    const base = path.resolve(options.cwd, server.cwd ?? '.');
    const same = words.find((word) => looksLikePath(word) && path.resolve(base, word) === self);
    if (same !== undefined) return `${JSON.stringify(same)} is the running bridge (${self})`;
  }
  return undefined;
}

/**
 * A segment names the bridge, and no `node_modules` follows it: a server installed inside a checkout
 * of the bridge (`…/codemode-bridge/node_modules/@modelcontextprotocol/server-everything/…`) is not it.
 */
function namesBridge(word: string): boolean {
  const segments = word.split(/[\\/]/);
  const last = segments.findLastIndex((segment) => SELF_SEGMENT.test(segment));
  return last !== -1 && !segments.slice(last + 1).includes('node_modules');
}

function namesOriginal(word: string): boolean {
  return word.split(/[\\/]/).some((segment) => ORIGINAL_SEGMENT.test(segment));
}

function looksLikePath(word: string): boolean {
  return word.includes('/') || word.includes('\\');
}
