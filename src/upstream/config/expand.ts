/**
 * `${VAR}` expansion in server entries, as Claude Code does for `.mcp.json`. Only the braced forms are
 * recognised: `${VAR}`, `${VAR:-default}` and VS Code's `${env:VAR}`. A bare `$VAR` and `$$` are left
 * as they are, as is any `${…}` that is not one of these forms (VS Code's `${input:id}`, say).
 */
import { createRedactor } from '../redact.js';
import { serverSecrets } from './secrets.js';
import type { ConfigWarning, UpstreamServerConfig } from './types.js';
import { describeUrlProblem } from './url.js';

/** Variables available to expansion: normally `process.env`, plus format-specific extras. */
export type ExpansionVariables = Readonly<Record<string, string | undefined>>;

/** The expanded text and the names of referenced variables that had no value and no default. */
export interface ExpandStringResult {
  value: string;
  missing: string[];
  /** The variables' values put into the text (not defaults, which are written in the config). */
  substituted: string[];
}

const VARIABLE_PATTERN = /\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Expands `${VAR}`, `${env:VAR}` and `${VAR:-default}` in `text`. As in the shell, the default is used
 * when the variable is unset *or empty*; the default itself is not expanded again. An unset variable
 * without a default becomes the empty string and is reported in `missing`.
 */
export function expandString(text: string, variables: ExpansionVariables): ExpandStringResult {
  const missing: string[] = [];
  const substituted: string[] = [];
  const value = text.replace(VARIABLE_PATTERN, (_match, name: string, fallback: string | undefined) => {
    const current = variables[name];
    if (current === undefined || current === '') {
      if (fallback !== undefined) return fallback;
      if (current === undefined && !missing.includes(name)) missing.push(name);
      return '';
    }
    if (!substituted.includes(current)) substituted.push(current);
    return current;
  });
  return { value, missing, substituted };
}

/** The expanded server, or none when expansion left it unusable; warnings either way. */
export interface ExpandServerResult {
  server: UpstreamServerConfig | undefined;
  warnings: ConfigWarning[];
}

/**
 * Expands variables in every string field a server uses to start or connect: `command`, `args`, `env`
 * values, `cwd`, `url` and `headers` values (never keys). Each unset variable yields one warning naming
 * the server and variable. The result is validated again, because an entry such as `"url": "${MCP_URL}"`
 * can only be checked once expanded: an empty command or an invalid URL drops the server with a warning.
 * The expanded server records its `secrets` (see `serverSecrets`); warnings are scrubbed of them,
 * since they are forwarded to the MCP client.
 */
export function expandServer(
  server: UpstreamServerConfig,
  variables: ExpansionVariables,
): ExpandServerResult {
  const missing = new Set<string>();
  const substituted = new Set<string>();
  const expand = (text: string): string => {
    const result = expandString(text, variables);
    for (const name of result.missing) missing.add(name);
    for (const value of result.substituted) substituted.add(value);
    return result.value;
  };
  const expandValues = (record: Record<string, string>): Record<string, string> =>
    Object.fromEntries(Object.entries(record).map(([key, value]) => [key, expand(value)]));

  let expanded: UpstreamServerConfig;
  let problem: string | undefined;
  // Shown to programs as written: never expanded, so no variable's value can reach a sandbox through it.
  const described = {
    ...(server.description ? { description: server.description } : {}),
    // Policy values are rules, not secrets or paths: never expanded.
    ...(server.policy !== undefined ? { policy: server.policy } : {}),
  };
  if (server.transport === 'stdio') {
    const command = expand(server.command);
    const cwd = server.cwd === undefined ? undefined : expand(server.cwd);
    expanded = {
      name: server.name,
      source: server.source,
      ...described,
      transport: 'stdio',
      command,
      args: server.args.map(expand),
      env: expandValues(server.env),
      ...(cwd ? { cwd } : {}),
    };
    if (command.trim() === '') problem = `command ${JSON.stringify(server.command)} expanded to nothing`;
  } else {
    const url = expand(server.url);
    expanded = {
      name: server.name,
      source: server.source,
      ...described,
      transport: server.transport,
      url,
      headers: expandValues(server.headers),
    };
    problem = describeUrlProblem(url);
  }

  const warnings: ConfigWarning[] = [...missing].map((name) => ({
    source: server.source,
    message:
      `Server "${server.name}" in ${server.source}: environment variable ${name} is not set; ` +
      'it was replaced by an empty string (write ${' +
      name +
      ':-default} to give a default).',
  }));
  const secrets = serverSecrets(expanded, substituted);
  if (problem !== undefined) {
    const redact = createRedactor(secrets);
    warnings.push({
      source: server.source,
      message: `Skipping server "${server.name}" in ${server.source}: after variable expansion, ${redact(problem)}.`,
    });
    return { server: undefined, warnings };
  }
  return { server: { ...expanded, secrets }, warnings };
}
