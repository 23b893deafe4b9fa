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
  codemode-bridge --help | --version (-V)

Options for run:
  -e, --eval CODE        Python source to run
  -t, --timeout SECONDS  Kill the sandbox after this long (clamped to MCP_BRIDGE_MAX_TIMEOUT)
  -s, --server NAME      Grant an MCP server to the program (repeatable)
      --json             Print the structured result as JSON

Exit status of run: 0 when the program succeeded, 1 when it failed or was killed, 2 on usage errors.

Environment:
${variables.join('\n')}
`;
}
