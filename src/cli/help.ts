import { SETTINGS_HELP } from './settings.js';

export function helpText(version: string): string {
  const variables = SETTINGS_HELP.map(
    ([name, fallback, meaning]) => `  ${name.padEnd(32)} ${meaning} [${fallback}]`,
  );
  return `codemode-bridge ${version} — run Python in a locked-down sandbox, with MCP tools as functions.

Usage:
  codemode-bridge [serve]                 Serve MCP on stdio (what MCP clients start)
  codemode-bridge run -e CODE             Run Python once and print the result
  codemode-bridge run FILE | -            Run a file, or stdin
  codemode-bridge servers [--check] [--json]
                                          List the MCP servers found in your config files
                                          (--check connects to each and counts its tools)
  codemode-bridge stubs [SERVER...]       Print the Python signatures and docstrings the sandbox
                                          builds for each server's tools
  codemode-bridge doctor                  Show which sandbox runtime would be used, and why
  codemode-bridge skills [list] [--json]  List the skills programs saved with save_tool
  codemode-bridge skills show NAME [--version N] [--json]
                                          Print a skill's source (default: its newest version)
  codemode-bridge skills remove NAME [--version N]
                                          Delete a skill (every version, or one)
  codemode-bridge audit [--run ID] [--server NAME] [--tool NAME] [--outcome ok|error|refused|aborted]
                        [--action allow|ask|deny] [--refused] [--since TIME|30m|2h|7d] [--last N]
                        [--file PATH] [--json]
                                          Print the audit log (MCP_BRIDGE_AUDIT_LOG and its rotated
                                          files), oldest first; server and tool take * globs
  codemode-bridge --help | --version (-V)

Options for run:
  -e, --eval CODE        Python source to run
  -t, --timeout SECONDS  Kill the sandbox after this long (clamped to MCP_BRIDGE_MAX_TIMEOUT)
  -s, --server NAME      Grant an MCP server to the program (repeatable)
      --json             Print the structured result as JSON

Exit status of run: 0 when the program succeeded, 1 when it failed or was killed, 2 on usage errors.

Policy (MCP_BRIDGE_POLICY, JSON or TOML; README "Policy"): allow/ask/deny lists of tool globs, at the
top level (matching server.tool) and per server ([servers.NAME]); read_only = true admits only tools
annotated readOnlyHint: true; destructive / open_world = allow|ask|deny for tools whose annotations do
not rule it out; the strictest matching rule wins. [budget] tool_calls, result_bytes, calls_per_tool
per run; per server rate_limit = { calls, per_seconds }. ask rules ask the user through MCP
elicitation ([approval] without_elicitation = "deny" | "allow"). [tokenize] detect = ["email",
"phone", "key"] and custom patterns turn values in results into placeholders like [EMAIL_1];
restore_to lists the servers that get the real values back. A config entry's "policy" block adds
rules for its server. A malformed policy stops the bridge. Refused calls raise mcp.PolicyError.

Environment:
${variables.join('\n')}
`;
}
