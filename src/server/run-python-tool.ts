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

/**
 * Every field `structuredContent` carries (format.ts's `structuredOutcome` and `structuredRunning`
 * build it), as tools/call results are checked against in the tests, nested objects in full.
 */
export const runPythonOutput = {
  status: z.enum(['ok', 'error', 'timeout', 'cancelled', 'killed', 'protocol_error', 'running']),
  stdout: z.string(),
  stderr: z.string(),
  error: z.string().optional(),
  traceback: z.string().optional(),
  durationMs: z.number(),
  /** Characters the output cap elided, per stream. */
  truncated: z.strictObject({ stdout: z.number().optional(), stderr: z.number().optional() }).optional(),
  session: z
    .strictObject({
      name: z.string(),
      state: z.enum(['new', 'resumed', 'restarted']),
      runs: z.number(),
      lost: z.string().optional(),
      ended: z.string().optional(),
    })
    .optional(),
  /** Stdout beyond the cap, kept on the host: `mcp.runtime.read_output(handle, …)` pages through it. */
  output: z.strictObject({ handle: z.string(), keptChars: z.number(), totalChars: z.number() }).optional(),
  /** A run still going: the handle `wait` takes. */
  wait: z.string().optional(),
  /** Which sandbox ran the program: the Monty tier, a container engine, or the embedded sandbox. */
  sandbox: z.enum(['monty', 'podman', 'docker', 'embedded']).optional(),
};

/**
 * The `run_python` entry of tools/list, from the same zod schemas tools/call is checked with, minus
 * what costs the model tokens and tells it nothing (`$schema`, `additionalProperties: false`).
 */
export function runPythonToolDefinition(serverNames: string[], policy: boolean): Tool {
  const compact = (shape: z.ZodRawShape) => {
    const root = z.object(shape);
    const {
      $schema: _schema,
      additionalProperties: _additional,
      ...schema
    } = z.toJSONSchema(root, {
      io: 'input',
      // Size caps are enforced on tools/call with a message that explains them; advertised, they
      // would cost every turn tokens for limits no reasonable call reaches. Nested result objects
      // (`session`, `output`, `truncated`) are listed as objects: their members cost tokens on
      // every turn, and the text result says what the model needs of them.
      override: ({ jsonSchema, zodSchema }) => {
        delete jsonSchema.maxLength;
        delete jsonSchema.maxItems;
        delete jsonSchema.pattern;
        delete jsonSchema.minLength;
        delete jsonSchema.minimum;
        delete jsonSchema.description;
        if (jsonSchema.type === 'object' && zodSchema !== root) {
          delete jsonSchema.properties;
          delete jsonSchema.required;
          delete jsonSchema.additionalProperties;
        }
        // The text result states the status; its enum cost every turn ~25 tokens.
        delete jsonSchema.enum;
      },
    });
    return schema as Tool['inputSchema'];
  };
  return {
    // No `title`: clients show the name without one, and its 8 tokens would go out on every turn.
    name: RUN_PYTHON_TOOL,
    description: describeRunPython(serverNames, policy),
    inputSchema: compact(runPythonInput),
    outputSchema: compact(runPythonOutput),
    // Said outright, though they are the spec's defaults: a program calls whatever tools its granted
    // servers have, so it may write, delete and reach the outside world as they do.
    annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: true },
    // A client that speaks MCP tasks may start a run as a task and poll it (run-task.ts).
    execution: { taskSupport: 'optional' },
  };
}

/** Past this many servers the description counts them instead of naming them. */
const NAMED_SERVERS = 3;
/** How many characters of server names the description may spend. */
const SERVER_LIST_CHARS = 40;

/**
 * The servers within a fixed budget, so the description stays small however many are configured:
 * a few by name, more as a count (their names are in the initialize instructions, the
 * `codemode://capabilities` resource and `mcp.runtime.discovered_servers()`).
 */
function summarizeServerNames(names: string[]): string {
  if (names.length === 0) return 'No MCP servers are configured.';
  const fits = names.join(', ').length <= SERVER_LIST_CHARS;
  if (names.length <= NAMED_SERVERS && fits) return `Servers: ${names.join(', ')}.`;
  return `${names.length} servers (\`mcp.runtime.discovered_servers()\` names them).`;
}

function describeRunPython(serverNames: string[], policy: boolean): string {
  const lines = [
    'Sandboxed Python (no network or host files; fresh each call unless `session` names one; `timeout` in s). Top-level await; last expression prints.',
    'MCP tools are async functions: grant `servers`, call `await mcp_<alias>.<tool>(...)`; search with `await mcp.runtime.search_tool_docs("task")`.',
    summarizeServerNames(serverNames),
  ];
  if (policy) lines.splice(2, 0, "Policy refusals raise mcp.PolicyError (don't retry).");
  return lines.join('\n');
}
