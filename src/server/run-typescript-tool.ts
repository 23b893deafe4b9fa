/**
 * What `run_typescript` is (docs/typescript.md): run_python's arguments, results and statuses, for a
 * TypeScript program whose tools are typed from their schemas. Its compact tools/list entry shares
 * run_python's schemas; the description says what differs.
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import {
  compactSchema,
  runPythonInput,
  runPythonOutput,
  runToolArguments,
  summarizeServerNames,
} from './run-python-tool.js';

export const RUN_TYPESCRIPT_TOOL = 'run_typescript';

export const runTypeScriptArguments = runToolArguments(RUN_TYPESCRIPT_TOOL);

/** The `run_typescript` entry of tools/list. */
export function runTypeScriptToolDefinition(serverNames: string[], policy: boolean): Tool {
  const lines = [
    'Sandboxed TypeScript (no network or host files; fresh each call unless `session` names one; `timeout` in s). Type-checked first; top-level await.',
    'MCP tools are typed async functions: grant `servers`, call `await mcp.<alias>.<tool>({...})`; `await mcp.runtime.search("task")` finds them with their types.',
    summarizeServerNames(serverNames, 'mcp.runtime.servers()'),
  ];
  if (policy) lines.splice(2, 0, "Policy refusals throw PolicyError (don't retry).");
  return {
    name: RUN_TYPESCRIPT_TOOL,
    description: lines.join('\n'),
    inputSchema: compactSchema(runPythonInput),
    outputSchema: compactSchema(runPythonOutput),
    annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: true },
    // As run_python: a client that speaks MCP tasks may start a run as a task (run-task.ts).
    execution: { taskSupport: 'optional' },
  };
}
