/** Approval prompts: the policy's `ask` put to the user through the client, as an MCP elicitation. */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { ApprovalAnswer, Approver } from '../engine/types.js';
import { visibleText } from '../shared/visible-text.js';

/**
 * The approval form, one object for every prompt: the SDK caches the validator it compiles for an
 * answer by the schema object, so a fresh object per prompt grew that cache by one per accepted call.
 */
const APPROVAL_FORM = {
  type: 'object',
  properties: {
    remember: {
      type: 'boolean',
      title: 'Also allow later calls to this tool in this run',
      default: false,
    },
  },
} as const;

/**
 * The call an approval prompt belongs to: its connection's server and the request it travels with
 * (none for a task's run: its request was answered with the task, so the prompt goes on the
 * connection's own stream).
 */
export interface WaitingCall {
  server: McpServer;
  requestId?: string | number;
}

/**
 * Asks the user about one tool call through MCP elicitation (`elicitation/create`, a form with one
 * checkbox: allow every call to this tool for the rest of the run). Waits until the user answers or
 * the run ends (`signal`: its deadline or cancellation); a client without form elicitation gets
 * `unsupported`, which the policy turns into a refusal unless configured otherwise. `waiting` names
 * the call now waiting on the run: a run outlives the call that started it, and a later call with its
 * `wait` handle may come from another connection of the same principal, whose client is asked.
 */
export function elicitApproval(waiting: () => WaitingCall): Approver {
  return async (request, signal): Promise<ApprovalAnswer> => {
    const { server, requestId: relatedRequestId } = waiting();
    if (!server.server.getClientCapabilities()?.elicitation?.form) return 'unsupported';
    const result = await server.server.elicitInput(
      {
        mode: 'form',
        // Names come from servers and the policy file, the reason may quote a pattern: each is escaped
        // so none can forge a line of this text (the arguments are escaped where they are rendered).
        message:
          `A run_python program (${visibleText(request.runId)}) wants to call ${visibleText(request.tool)} on ` +
          `the MCP server '${visibleText(request.server)}'. The policy asks you first (rule ` +
          `${visibleText(request.rule)}: ${visibleText(request.reason)}).\n\n` +
          `Arguments (secrets redacted):\n${request.arguments}\n\nAllow this call?`,
        requestedSchema: APPROVAL_FORM,
      },
      // The run's deadline bounds the wait, not the SDK's default request timeout.
      { signal, ...(relatedRequestId !== undefined ? { relatedRequestId } : {}), timeout: 2 ** 31 - 1 },
    );
    if (result.action === 'accept') return result.content?.remember === true ? 'accept-run' : 'accept';
    return result.action;
  };
}
