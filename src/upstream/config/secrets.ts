/** Which strings of a server entry are secrets, for the redactor (../redact.ts). */
import type { UpstreamServerConfig } from './types.js';

/**
 * The secrets of `server`: `substituted` (the values `${VAR}` expansion put into it), every `env`
 * value, every header value, and the username and password of its URL (as written and decoded).
 * Values too short or too common to be secrets are kept here and ignored by the redactor.
 */
export function serverSecrets(server: UpstreamServerConfig, substituted: Iterable<string> = []): string[] {
  const secrets = new Set<string>(substituted);
  if (server.transport === 'stdio') {
    for (const value of Object.values(server.env)) secrets.add(value);
  } else {
    for (const value of Object.values(server.headers)) secrets.add(value);
    for (const part of userinfoOf(server.url)) secrets.add(part);
  }
  secrets.delete('');
  return [...secrets];
}

function userinfoOf(url: string): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [];
  }
  const parts = [parsed.username, parsed.password].filter((part) => part !== '');
  return parts.flatMap((part) => [part, safeDecode(part)]);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
