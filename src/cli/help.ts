/**
 * The command line's help, as data: `--help` prints it, and `npm run docs` writes docs/cli.md from the
 * same tables (src/cli/reference-docs.ts), so the two cannot drift.
 */
import { HTTP_SETTINGS_HELP } from './http-settings.js';
import { SETTINGS_HELP } from './settings.js';

export const PROGRAM = 'codemode-bridge';
export const TAGLINE = 'run Python in a locked-down sandbox, with MCP tools as functions.';

export interface CommandHelp {
  /** The command's name, which groups its forms in the reference (`skills` has three). */
  name: string;
  /** The synopsis after the program's name; further entries continue it on lines of their own. */
  usage: readonly string[];
  /** What `--help` says, one paragraph (wrapped when printed). */
  summary: string;
  /** Markdown the reference adds after the command's summaries: flags in depth, exit status, links. */
  details?: string;
}

export const COMMANDS: readonly CommandHelp[] = [
  {
    name: 'serve',
    usage: ['[serve]'],
    summary: 'Serve MCP on stdio (what MCP clients start)',
    details:
      'The default command. An invalid setting does not end it before the handshake: the client is told ' +
      'what is wrong ([invalid values](configuration.md#invalid-values)).',
  },
  {
    name: 'serve',
    usage: ['serve --http PORT [--host H]'],
    summary:
      'Serve MCP over streamable HTTP at /mcp, one session per client (default host 127.0.0.1; PORT 0: ' +
      'any free port), with /metrics (Prometheus), /console and /healthz',
    details:
      'It prints the address it serves at on stderr. Tokens, origins, limits, shutdown and a reverse ' +
      'proxy: [HTTP serving for a team](operations.md#http-serving-for-a-team).',
  },
  {
    name: 'console',
    usage: ['console [--port PORT]'],
    summary: "The same on 127.0.0.1 (default port 8377); prints the console's address",
    details: 'What the console shows and how it signs in: [the console](operations.md#the-console).',
  },
  {
    name: 'run',
    usage: ['run -e CODE'],
    summary: 'Run Python once and print the result',
  },
  {
    name: 'run',
    usage: ['run FILE | -'],
    summary: 'Run a file, or stdin',
    details:
      'The same engine as the `run_python` tool, with the same settings, sandboxes and policy; ' +
      '`--json` prints the structured result a client receives ([the `run_python` tool](guide.md#the-run_python-tool)).',
  },
  {
    name: 'servers',
    usage: ['servers [--check] [--json]'],
    summary:
      'List the MCP servers found in your config files (--check connects to each and counts its tools)',
    details:
      'Each server with its Python alias, transport, source file, and the files whose definition of ' +
      'the same name it shadows; `--check` shows each tool count or connection error; `--json` gives ' +
      'each server with `source` and `shadowed`, for scripts. Where the files are: ' +
      '[where servers are found](configuration.md#where-servers-are-found).',
  },
  {
    name: 'stubs',
    usage: ['stubs [--language python|typescript] [SERVER...]'],
    summary:
      "Print the Python signatures and docstrings the sandbox builds for each server's tools, or with --language typescript the TypeScript declarations programs are checked against",
    details:
      'Python stubs are rendered inside a sandbox by the same code that builds the tool functions, so they cannot drift. ' +
      "TypeScript's are `mcp.d.ts` (what every program sees) and each server's declaration, typed from its tools' schemas " +
      "([TypeScript code mode](typescript.md)); save them as a `.d.ts` beside your editor's copy of a program.",
  },
  {
    name: 'doctor',
    usage: ['doctor'],
    summary:
      'Show which sandbox runtime would be used, and why; the config files, policy and audit log, HTTP ' +
      'and telemetry',
    details:
      "Also whether the image is there, the embedded sandbox's snapshot, and the OCI runtime in use with " +
      'its path and version (or, when unset, whether runsc is available); it starts one sandbox exactly ' +
      'as the bridge does. A malformed policy is printed. Exit status: 0 healthy, 1 no usable sandbox (or ' +
      'the chosen engine lacks its image), 2 an invalid setting or policy ' +
      '([doctor](operations.md#checking-a-set-up-doctor)).',
  },
  {
    name: 'skills',
    usage: ['skills [list] [--principal ID] [--json]'],
    summary: 'List the skills programs saved with save_tool: your own and the shared ones',
    details:
      "--principal ID lists that principal's namespace (an OAuth `sub` or a tokens-file name) instead of " +
      "the local user's; a shared skill is marked with its author, an own one that hides a shared one of " +
      'the same name says so ([team](team.md#skills-own-and-shared)).',
  },
  {
    name: 'skills',
    usage: ['skills show NAME [--version N] [--shared] [--principal ID] [--json]'],
    summary: "Print a skill's source (default: its newest version) and who saved it",
  },
  {
    name: 'skills',
    usage: ['skills remove NAME [--version N] [--shared] [--principal ID]'],
    summary: 'Delete a skill (every version, or one); --shared deletes a published one',
    details:
      'The list shows any problem a skill has (a file edited by hand that no longer loads). Removing the ' +
      'newest version rolls back to the one before ([skills](guide.md#skills-functions-that-persist)).',
  },
  {
    name: 'skills',
    usage: ['skills publish NAME [--principal ID]'],
    summary: 'Share a skill with everyone on the bridge',
    details:
      "Copies the newest version of your own skill NAME (or, with --principal, of that principal's) into " +
      'the shared skills as a new version recording who published it, then removes the own copy. Only the ' +
      'author and admins may change or delete a shared skill ([team](team.md#skills-own-and-shared)).',
  },
  {
    name: 'audit',
    usage: [
      'audit [--run ID [--pid PID]] [--principal ID] [--server NAME] [--tool NAME]',
      '[--outcome ok|error|refused|aborted] [--action allow|ask|deny] [--refused]',
      '[--since TIME|30m|2h|7d] [--last N] [--file PATH] [--json]',
    ],
    summary:
      'Print the audit log (MCP_BRIDGE_AUDIT_LOG and its rotated files), oldest first; server and tool ' +
      'take * globs; run ids are per bridge process, --pid picks the bridge',
    details: [
      '```sh',
      'codemode-bridge audit --refused --since 2h          # what the policy stopped lately',
      'codemode-bridge audit --run run-7 --pid 4123 --json # one run of the bridge with pid 4123, as JSON lines',
      "codemode-bridge audit --server 'git*' --tool 'create_*' --last 20",
      '```',
      '',
      "Each text line shows the bridge's pid in brackets before the run id, and whose run it was in " +
        "parentheses after it (`--principal` keeps one principal's); `--run` without `--pid` says on " +
        'stderr when its id names runs of more than one bridge. What a record holds: ' +
        '[audit log](policy.md#audit-log).',
    ].join('\n'),
  },
  {
    name: 'help',
    usage: ['--help | --version (-V)'],
    summary: '',
    details:
      "`COMMAND --help` (or `-h`, anywhere among the command's arguments, or `help COMMAND`) prints that " +
      "command's help; `--help` alone (or `help`) prints all of it, with every environment variable.",
  },
];

export interface OptionHelp {
  flags: string;
  meaning: string;
}

export const RUN_OPTIONS: readonly OptionHelp[] = [
  { flags: '-e, --eval CODE', meaning: 'Python source to run' },
  {
    flags: '-t, --timeout SECONDS',
    meaning: 'Kill the sandbox after this long (clamped to MCP_BRIDGE_MAX_TIMEOUT)',
  },
  { flags: '-s, --server NAME', meaning: 'Grant an MCP server to the program (repeatable)' },
  { flags: '    --json', meaning: 'Print the structured result as JSON' },
];

export const RUN_EXIT_STATUS =
  'Exit status of run: 0 when the program succeeded, 1 when it failed or was killed, 2 on usage errors.';

export interface TopicHelp {
  title: string;
  /** The docs/ page that tells the whole story. */
  page: string;
  text: string;
}

export const TOPICS: readonly TopicHelp[] = [
  {
    title: 'HTTP',
    page: 'docs/operations.md',
    text:
      'without a token the server answers on loopback only (Host checked, so a rebound DNS name is ' +
      'refused) and refuses to bind another address; with MCP_BRIDGE_HTTP_TOKEN(_FILE) clients send ' +
      '"Authorization: Bearer TOKEN" (/mcp, /metrics, /console). Browser requests whose Origin is not the ' +
      "server's own loopback origin or one in MCP_BRIDGE_HTTP_ALLOWED_ORIGINS get 403. The console takes " +
      'the token once (its sign-in form, or ?token= in a link) and keeps an HttpOnly, SameSite=Strict ' +
      'cookie holding a digest of it. SIGTERM drains: runs get MCP_BRIDGE_HTTP_DRAIN seconds, then are ' +
      'cancelled, and every sandbox is removed.',
  },
  {
    title: 'Telemetry',
    page: 'docs/operations.md',
    text:
      'standard OpenTelemetry variables: OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ' +
      'sends a span per run and per tool call over OTLP/HTTP (JSON); OTEL_EXPORTER_OTLP_HEADERS, ' +
      'OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER=none apply. ' +
      "A caller's W3C traceparent/tracestate (the request's _meta, or HTTP headers) parents the run's span, " +
      "and every upstream tools/call carries its span's context (_meta; headers for HTTP and SSE servers). " +
      'serve --http also serves metrics for Prometheus at /metrics. Unset, no telemetry code is loaded.',
  },
  {
    title: 'Policy',
    page: 'docs/policy.md',
    text:
      'MCP_BRIDGE_POLICY, JSON or TOML: allow/ask/deny lists of tool globs, at the top level (matching ' +
      'server.tool) and per server ([servers.NAME]); read_only = true admits only tools annotated ' +
      'readOnlyHint: true; destructive / open_world = allow|ask|deny for tools whose annotations do not ' +
      'rule it out; the strictest matching rule wins. [budget] tool_calls (refused calls count), ' +
      'refused_calls (default 100; past it every call of the run is refused), result_bytes, calls_per_tool ' +
      'per run; per server rate_limit = { calls, per_seconds }. ask rules ask the user through MCP ' +
      'elicitation ([approval] without_elicitation = "deny" | "allow"). [tokenize] detect = ["email", ' +
      '"phone", "key"] and custom patterns turn values in results into placeholders like [EMAIL_1:k3fq7a], ' +
      'valid in their run (or named session); restore_to lists the servers, or server.tool, that get the ' +
      'real values back. A config entry\'s "policy" block adds rules for its server. A malformed policy ' +
      'stops the bridge. Refused calls raise mcp.PolicyError. A tool name the server never listed is ' +
      'refused (UNKNOWN_TOOL), policy or not.',
  },
  {
    title: 'Sessions',
    page: 'docs/guide.md',
    text:
      'run_python(session="name") keeps that call\'s sandbox for later calls with the same name (globals, ' +
      'imports, /workspace files); calls without session get a fresh one. A timeout, kill, crash or ' +
      'running out of MCP_BRIDGE_SESSION_MEMORY ends the session and the next call says its state was ' +
      'lost; idle sessions end after MCP_BRIDGE_SESSION_IDLE_TIMEOUT. In Python: await ' +
      'mcp.runtime.list_sessions(), reset_session(name), save(name, value) / load(name) for picklable ' +
      'values kept by the bridge across sessions and fresh runs.',
  },
  {
    title: 'Long runs',
    page: 'docs/guide.md',
    text:
      'a call whose run is still going after yield_after seconds (MCP_BRIDGE_YIELD_AFTER; 0 = never) ' +
      'returns the output so far, status running and a handle; run_python(wait="job-N") returns the ' +
      "output since and, once the run ends, its result. The run's timeout still applies; handles are per " +
      "client, 16 at most, and a finished run's result is kept 10 min.",
  },
];

/** Every environment variable, in the order `--help` and docs/configuration.md list them. */
export const ALL_SETTINGS = [...SETTINGS_HELP, ...HTTP_SETTINGS_HELP];

const WIDTH = 100;
const SUMMARY_COLUMN = 42;

/** Words of `text` in lines of at most `width` characters (a longer word gets a line of its own). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

function commandLines(command: CommandHelp): string[] {
  const [first = '', ...rest] = command.usage;
  const head = `  ${PROGRAM} ${first}`;
  // Continuations line up under the command's arguments.
  const indent = ' '.repeat(head.indexOf(' ', PROGRAM.length + 3) + 1);
  const lines = [head, ...rest.map((line) => `${indent}${line}`)];
  const summary = wrap(command.summary, WIDTH - SUMMARY_COLUMN);
  const last = lines.length - 1;
  if (summary.length > 0 && (lines[last] ?? '').length < SUMMARY_COLUMN - 1) {
    lines[last] = `${(lines[last] ?? '').padEnd(SUMMARY_COLUMN)}${summary.shift()}`;
  }
  return [...lines, ...summary.map((line) => `${' '.repeat(SUMMARY_COLUMN)}${line}`)];
}

export function helpText(version: string): string {
  const width = Math.max(...ALL_SETTINGS.map((setting) => setting.name.length));
  const variables = ALL_SETTINGS.map(
    (setting) => `  ${setting.name.padEnd(width)} ${setting.meaning} [${setting.fallback}]`,
  );
  const optionWidth = Math.max(...RUN_OPTIONS.map((option) => option.flags.length));
  const topics = TOPICS.map((topic) =>
    wrap(`${topic.title} (${topic.page}): ${topic.text}`, WIDTH).join('\n'),
  );
  return `${PROGRAM} ${version} — ${TAGLINE}

Usage:
${COMMANDS.flatMap(commandLines).join('\n')}

Options for run:
${RUN_OPTIONS.map((option) => `  ${option.flags.padEnd(optionWidth)}  ${option.meaning}`).join('\n')}

${RUN_EXIT_STATUS}

${topics.join('\n\n')}

Environment:
${variables.join('\n')}
`;
}

/** The commands `COMMAND --help` knows: every name in `COMMANDS` but the help entry itself. */
export function commandNames(): string[] {
  return [...new Set(COMMANDS.filter((command) => command.name !== 'help').map((command) => command.name))];
}

/**
 * Markdown of the reference as terminal text: a link shows its target as a path in the package
 * (`docs/…`), code spans and fences lose their marks, fenced lines are indented.
 */
function plainText(markdown: string): string[] {
  const lines: string[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) {
      fenced = !fenced;
      continue;
    }
    if (fenced) {
      lines.push(`    ${line}`);
      continue;
    }
    const text = line
      .replace(/\[([^\]]+)\]\(([^)]+)\)/g, (_, label: string, target: string) => `${label} (docs/${target})`)
      .replaceAll('`', '');
    lines.push(...(text.trim() === '' ? [''] : wrap(text, WIDTH - 2).map((each) => `  ${each}`)));
  }
  return lines;
}

/**
 * `codemode-bridge COMMAND --help`: that command's forms, what the reference says of them, its
 * options, and where the rest is; undefined for a name that is not a command.
 */
export function commandHelpText(name: string, version: string): string | undefined {
  const forms = COMMANDS.filter((command) => command.name === name && name !== 'help');
  if (forms.length === 0) return undefined;
  const details = forms.flatMap((form) => (form.details ? ['', ...plainText(form.details)] : []));
  const optionWidth = Math.max(...RUN_OPTIONS.map((option) => option.flags.length));
  const options =
    name === 'run'
      ? [
          '',
          'Options:',
          ...RUN_OPTIONS.map((option) => `  ${option.flags.padEnd(optionWidth)}  ${option.meaning}`),
          '',
          RUN_EXIT_STATUS.replace('Exit status of run: ', 'Exit status: '),
        ]
      : [];
  return `${PROGRAM} ${version} — ${TAGLINE}

Usage:
${forms.flatMap(commandLines).join('\n')}
${[...details, ...options].join('\n')}

Reference: docs/cli.md#${name}, in the package.
Every command and environment variable: ${PROGRAM} --help.
`;
}
