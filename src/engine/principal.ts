/**
 * Who a run is for. Over stdio the bridge serves one principal, the local user; over HTTP each
 * credential names one (server/http/auth: the single token, an entry of the tokens file, an OAuth
 * access token's `sub`). What a principal's runs leave behind (named sessions, saved values, kept
 * output, runs still going, skills) is that principal's, and never reachable by another.
 */
import { userInfo } from 'node:os';

/** `admin` sees every principal's runs in the console and may change any shared skill; `user` only its own. */
export const ROLES = ['user', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  /** Stable and unique: the key everything the principal owns is kept under. */
  readonly id: string;
  /** For people: the console, logs, who saved a skill. */
  readonly name: string;
  readonly role: Role;
}

/**
 * The local user's id: stdio's one principal, and over HTTP the holder of the single token
 * (`MCP_BRIDGE_HTTP_TOKEN`) or anyone on a loopback bridge without one. A tokens-file entry or an
 * OAuth `sub` of this name is the same principal (docs/team.md says so).
 */
export const LOCAL_PRINCIPAL_ID = 'local';

let local: Principal | undefined;

/** The local user: admin of its own bridge, named after the account that runs it. */
export function localPrincipal(): Principal {
  if (!local) {
    let name = LOCAL_PRINCIPAL_ID;
    try {
      name = userInfo().username || name;
    } catch {
      // No passwd entry for this uid (a container run as an arbitrary uid): keep the id.
    }
    local = { id: LOCAL_PRINCIPAL_ID, name, role: 'admin' };
  }
  return local;
}

/** Whether `principal` may see or change what `owner` owns: its own, or anything for an admin. */
export function mayAccess(principal: Principal, owner: string): boolean {
  return principal.role === 'admin' || principal.id === owner;
}
