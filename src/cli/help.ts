import { HTTP_SETTINGS_HELP } from './http-settings.js';
import { SETTINGS_HELP } from './settings.js';

export function helpText(version: string): string {
  const settings = [...SETTINGS_HELP, ...HTTP_SETTINGS_HELP];
  const width = Math.max(...settings.map(([name]) => name.length));
  const variables = settings.map(
    ([name, fallback, meaning]) => `  ${name.padEnd(width)} ${meaning} [${fallback}]`,
  );
  return `codemode-bridge ${version} — run Python in a locked-down sandbox, with MCP tools as functions.

Usage:
  codemode-bridge [serve]                 Serve MCP on stdio (what MCP clients start)
  codemode-bridge serve --http PORT [--host H]
                                          Serve MCP over streamable HTTP at /mcp, one session per
                                          client (default host 127.0.0.1; PORT 0: any free port),
                                          with /metrics (Prometheus), /console and /healthz
  codemode-bridge console [--port PORT]   The same on 127.0.0.1 (default port 8377); prints the
                                          console's address
  codemode-bridge run -e CODE             Run Python once and print the result
  codemode-bridge run FILE | -            Run a file, or stdin
  codemode-bridge servers [--check] [--json]
                                          List the MCP servers found in your config files
                                          (--check connects to each and counts its tools)
  codemode-bridge stubs [SERVER...]       Print the Python signatures and docstrings the sandbox
                                          builds for each server's tools
  codemode-bridge doctor                  Show which sandbox runtime would be used, and why; the
                                          config files, policy and audit log, HTTP and telemetry
  codemode-bridge skills [list] [--json]  List the skills programs saved with save_tool
  codemode-bridge skills show NAME [--version N] [--json]
                                          Print a skill's source (default: its newest version)
  codemode-bridge skills remove NAME [--version N]
                                          Delete a skill (every version, or one)
  codemode-bridge audit [--run ID [--pid PID]] [--server NAME] [--tool NAME]
                        [--outcome ok|error|refused|aborted] [--action allow|ask|deny] [--refused]
                        [--since TIME|30m|2h|7d] [--last N] [--file PATH] [--json]
                                          Print the audit log (MCP_BRIDGE_AUDIT_LOG and its rotated
                                          files), oldest first; server and tool take * globs; run
                                          ids are per bridge process, --pid picks the bridge
  codemode-bridge --help | --version (-V)

Options for run:
  -e, --eval CODE        Python source to run
  -t, --timeout SECONDS  Kill the sandbox after this long (clamped to MCP_BRIDGE_MAX_TIMEOUT)
  -s, --server NAME      Grant an MCP server to the program (repeatable)
      --json             Print the structured result as JSON

Exit status of run: 0 when the program succeeded, 1 when it failed or was killed, 2 on usage errors.

HTTP (README "Operate"): without a token the server answers on loopback only (Host checked, so a
rebound DNS name is refused) and refuses to bind another address; with MCP_BRIDGE_HTTP_TOKEN(_FILE)
clients send "Authorization: Bearer TOKEN" (/mcp, /metrics, /console). Browser requests whose Origin is
not the server's own loopback origin or one in MCP_BRIDGE_HTTP_ALLOWED_ORIGINS get 403. The console
takes the token once (its sign-in form, or ?token= in a link) and keeps an HttpOnly, SameSite=Strict
cookie holding a digest of it. SIGTERM drains: runs get MCP_BRIDGE_HTTP_DRAIN seconds, then are
cancelled, and every sandbox is removed.

Telemetry (standard OpenTelemetry variables): OTEL_EXPORTER_OTLP_ENDPOINT or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT sends a span per run and per tool call over OTLP/HTTP (JSON);
OTEL_EXPORTER_OTLP_HEADERS, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_SDK_DISABLED and
OTEL_TRACES_EXPORTER=none apply. serve --http also serves metrics for Prometheus at /metrics.
Unset, no telemetry code is loaded.

Policy (MCP_BRIDGE_POLICY, JSON or TOML; README "Policy"): allow/ask/deny lists of tool globs, at the
top level (matching server.tool) and per server ([servers.NAME]); read_only = true admits only tools
annotated readOnlyHint: true; destructive / open_world = allow|ask|deny for tools whose annotations do
not rule it out; the strictest matching rule wins. [budget] tool_calls (refused calls count),
refused_calls (default 100; past it every call of the run is refused), result_bytes, calls_per_tool
per run; per server rate_limit = { calls, per_seconds }. ask rules ask the user through MCP
elicitation ([approval] without_elicitation = "deny" | "allow"). [tokenize] detect = ["email",
"phone", "key"] and custom patterns turn values in results into placeholders like [EMAIL_1:k3fq7a],
valid in their run (or named session); restore_to lists the servers, or server.tool, that get the
real values back. A config entry's "policy" block adds rules for its server. A malformed policy stops
the bridge. Refused calls raise mcp.PolicyError. A tool name the server never listed is refused
(UNKNOWN_TOOL), policy or not.

Sessions (README "Sessions"): run_python(session="name") keeps that call's sandbox for later calls
with the same name (globals, imports, /workspace files); calls without session get a fresh one. A
timeout, kill, crash or running out of MCP_BRIDGE_SESSION_MEMORY ends the session and the next call
says its state was lost; idle sessions end after MCP_BRIDGE_SESSION_IDLE_TIMEOUT. In Python: await
mcp.runtime.list_sessions(), reset_session(name), save(name, value) / load(name) for picklable values
kept by the bridge across sessions and fresh runs.

Long runs (README "Long runs"): a call whose run is still going after yield_after seconds
(MCP_BRIDGE_YIELD_AFTER; 0 = never) returns the output so far, status running and a handle;
run_python(wait="job-N") returns the output since and, once the run ends, its result. The run's
timeout still applies; handles are per client, 16 at most, and a finished run's result is kept 10 min.

Environment:
${variables.join('\n')}
`;
}
