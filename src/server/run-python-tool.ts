/**
 * What `run_python` is: its name, the zod schemas its calls are checked with, and the compact entry
 * tools/list advertises (schemas and a description that stays small however many servers there are).
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { SESSION_NAME_PATTERN } from '../engine/sessions.js';
import { MIN_RUN_TIMEOUT_MS } from '../engine/types.js';
import { groupDigits } from '../shared/digits.js';

export const RUN_PYTHON_TOOL = 'run_python';

/** Code beyond this is data that belongs in a file or a tool result, not in the request. */
const MAX_CODE_CHARS = 1_000_000;

export const runPythonInput = {
  code: z
    .string()
    .min(1, 'code must not be empty')
    .max(
      MAX_CODE_CHARS,
      `code is limited to ${groupDigits(MAX_CODE_CHARS)} characters; read large data from a tool or a file instead of inlining it`,
    )
    .optional()
    .describe('Python 3 source'),
  servers: z.array(z.string().min(1).max(256)).max(256).optional().describe('MCP servers this run may call'),
  timeout: z
    .number()
    .min(MIN_RUN_TIMEOUT_MS / 1000, `timeout must be at least ${MIN_RUN_TIMEOUT_MS / 1000} seconds`)
    .optional()
    .describe('seconds'),
  session: z
    .string()
    .regex(SESSION_NAME_PATTERN, 'session must be 1-64 letters, digits, _ . or -')
    .optional(),
  wait: z.string().max(64).optional(),
  yield_after: z.number().min(0).optional(),
};

// Strict: a misspelt `timout` refused with its name beats a run that quietly ignored it.
export const runPythonArguments = z.strictObject(runPythonInput, {
  error: (issue) =>
    issue.code === 'unrecognized_keys'
      ? `unknown argument${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}; ` +
        `${RUN_PYTHON_TOOL} takes ${Object.keys(runPythonInput).join(', ')}`
      : undefined,
});
export type RunPythonArguments = z.infer<typeof runPythonArguments>;

const runPythonOutput = {
  status: z.enum(['ok', 'error', 'timeout', 'cancelled', 'killed', 'protocol_error', 'running']),
  stdout: z.string(),
  stderr: z.string(),
  error: z.string().optional(),
  traceback: z.string().optional(),
  durationMs: z.number(),
  truncated: z.record(z.string(), z.number()).optional(),
  session: z.object({}).passthrough().optional(),
  output: z.object({}).passthrough().optional(),
  wait: z.string().optional(),
  /** Which sandbox ran the program: the Monty tier, a container engine, or the embedded sandbox. */
  sandbox: z.enum(['monty', 'podman', 'docker', 'embedded']).optional(),
};
/**
 * What tools/list advertises: `durationMs`, `truncated`, `session`, `output`, `wait` and `sandbox` are
 * left out (clients accept extra properties; tokens count, and the text result says what the model
 * needs: 14 tokens for `sandbox`'s enum took tools/list past its 400-token budget).
 */
const {
  durationMs: _durationMs,
  truncated: _truncated,
  session: _session,
  output: _output,
  wait: _wait,
  sandbox: _sandbox,
  ...listedOutput
} = runPythonOutput;

/**
 * The `run_python` entry of tools/list, from the same zod schemas tools/call is checked with, minus
 * what costs the model tokens and tells it nothing (`$schema`, `additionalProperties: false`).
 */
export function runPythonToolDefinition(serverNames: string[], policy: boolean, yieldAfterMs: number): Tool {
  const compact = (shape: z.ZodRawShape) => {
    const {
      $schema: _schema,
      additionalProperties: _additional,
      ...schema
    } = z.toJSONSchema(z.object(shape), {
      io: 'input',
      // Size caps are enforced on tools/call with a message that explains them; advertised, they
      // would cost every turn tokens for limits no reasonable call reaches.
      override: ({ jsonSchema }) => {
        delete jsonSchema.maxLength;
        delete jsonSchema.maxItems;
        delete jsonSchema.pattern;
        delete jsonSchema.minLength;
        delete jsonSchema.minimum;
      },
    });
    return schema as Tool['inputSchema'];
  };
  return {
    name: RUN_PYTHON_TOOL,
    title: 'Run Python',
    description: describeRunPython(serverNames, policy, yieldAfterMs),
    inputSchema: compact(runPythonInput),
    outputSchema: compact(listedOutput),
    // No annotations: their defaults (not read-only, open world) are what run_python is.
  };
}

/** How many characters of server names the description may spend; the rest are one helper call away. */
const SERVER_LIST_CHARS = 100;

/** Lists server names within a fixed budget, so the description stays small however many are configured. */
function summarizeServerNames(names: string[]): string {
  if (names.length === 0) return 'No MCP servers are configured.';
  const shown: string[] = [];
  let used = 0;
  for (const name of names) {
    if (used + name.length > SERVER_LIST_CHARS && shown.length > 0) break;
    shown.push(name);
    used += name.length + 2;
  }
  const rest = names.length - shown.length;
  return `Servers: ${shown.join(', ')}${rest > 0 ? ` and ${rest} more (rt.discovered_servers())` : ''}.`;
}

function describeRunPython(serverNames: string[], policy: boolean, yieldAfterMs: number): string {
  const lines = [
    'Run Python 3 in a sandbox (no network, no host files; fresh interpreter each call, or kept per `session`). Top-level await works; a final expression is printed.',
    `Runs past \`yield_after\` s (default ${yieldAfterMs > 0 ? Number((yieldAfterMs / 1000).toFixed(1)) : 'never'}; 0 = never) return output so far and a handle; call with only \`wait\`=handle for more and the result.`,
    'MCP tools are async functions. Grant servers via `servers`, then `await mcp_<alias>.<tool>(...)`, `mcp_servers["name"]["tool"]` or `from mcp.servers.<alias> import <tool>`; errors raise mcp.ToolError.',
    'Find tools first: `import mcp.runtime as rt`; `await rt.search_tool_docs("task")`; `await rt.query_tool_docs(server, tool, detail="full")`.',
    'Filter and join in Python; print only what you need.',
    summarizeServerNames(serverNames),
  ];
  if (policy) {
    lines.splice(
      3,
      0,
      "A user policy governs tool calls: each tool doc has a `policy` (allow/ask/deny); refused calls raise mcp.PolicyError (a ToolError) naming the rule. Don't retry refused calls.",
    );
  }
  return lines.join('\n');
}
