import { homedir } from 'node:os';
import { join } from 'node:path';

/** MCP_BRIDGE_STATE_DIR, else `$XDG_CACHE_HOME/codemode-bridge`, else `~/.cache/codemode-bridge`. */
export function resolveStateDir(env: NodeJS.ProcessEnv): string {
  const explicit = env.MCP_BRIDGE_STATE_DIR?.trim();
  if (explicit) return explicit;
  const base = env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache');
  return join(base, 'codemode-bridge');
}
