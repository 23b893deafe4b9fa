import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * MCP_BRIDGE_STATE_DIR, else `$XDG_STATE_HOME/codemode-bridge`, else `~/.local/state/codemode-bridge`.
 * State, not cache: saved skills live here, and a cache cleaner must not take them with the
 * embedded sandbox's snapshot (which is rebuilt when missing).
 */
export function resolveStateDir(env: NodeJS.ProcessEnv): string {
  const explicit = env.MCP_BRIDGE_STATE_DIR?.trim();
  if (explicit) return explicit;
  const base = env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state');
  return join(base, 'codemode-bridge');
}
