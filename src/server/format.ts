/** Turns a run outcome into what the model reads: compact text, or the same object as TOON. */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { encode } from '@toon-format/toon';
import type { RunOutcome } from '../engine/types.js';
import { groupDigits } from '../shared/digits.js';
import { attachmentContent } from './attachments.js';
import type { RunStep } from './long-runs.js';

type RunningStep = Extract<RunStep, { kind: 'running' }>;

export type OutputMode = 'text' | 'toon';

/** The whole tool result of a run that ended: text, attachments, `structuredContent`, `isError`. */
export function outcomeResult(outcome: RunOutcome, mode: OutputMode): CallToolResult {
  return {
    content: [
      { type: 'text', text: formatOutcome(outcome, mode) },
      ...attachmentContent(outcome.attachments ?? []),
    ],
    structuredContent: structuredOutcome(outcome),
    ...(outcome.status === 'ok' ? {} : { isError: true }),
  };
}

/** The `structuredContent` of a `run_python` result. */
export function structuredOutcome(outcome: RunOutcome): Record<string, unknown> {
  return {
    status: outcome.status,
    stdout: outcome.stdout,
    stderr: outcome.stderr,
    ...(outcome.error !== undefined ? { error: outcome.error } : {}),
    ...(outcome.traceback !== undefined ? { traceback: outcome.traceback } : {}),
    durationMs: outcome.durationMs,
    ...(outcome.truncated ? { truncated: outcome.truncated } : {}),
    ...(outcome.session ? { session: outcome.session } : {}),
    ...(outcome.output ? { output: outcome.output } : {}),
    ...(outcome.sandbox ? { sandbox: outcome.sandbox } : {}),
  };
}

/**
 * Plain text: stdout as is, then stderr and the error under short headers; empty parts omitted.
 * A successful run with no output says so, so the model does not wonder whether it ran.
 */
export function formatOutcomeText(outcome: RunOutcome): string {
  const parts: string[] = [];
  const session = outcome.session;
  if (session?.lost) {
    parts.push(
      `[session ${session.name}: the previous state was lost (${session.lost}); this call started a fresh sandbox]`,
    );
  }
  if (outcome.stdout) parts.push(trimNewline(outcome.stdout));
  if (outcome.output) {
    const { handle, keptChars, totalChars } = outcome.output;
    const kept = keptChars < totalChars ? ` (its first ${groupDigits(keptChars)} characters)` : '';
    parts.push(
      `[full stdout kept as ${handle}${kept}, ${groupDigits(totalChars)} characters: page with \`await mcp.runtime.read_output("${handle}", offset, length)\` in run_python]`,
    );
  }
  if (outcome.stderr) parts.push(`[stderr]\n${trimNewline(outcome.stderr)}`);
  if (outcome.status !== 'ok') {
    const detail = outcome.traceback ? trimNewline(outcome.traceback) : (outcome.error ?? '');
    parts.push(`[${outcome.status}]\n${detail}`);
  }
  if (session?.ended) parts.push(`[session ${session.name} ended: ${session.ended}; its state is lost]`);
  if (parts.length === 0) parts.push('(no output)');
  return parts.join('\n');
}

export function formatOutcome(outcome: RunOutcome, mode: OutputMode): string {
  if (mode === 'toon') return `\`\`\`toon\n${encode(structuredOutcome(outcome))}\n\`\`\``;
  return formatOutcomeText(outcome);
}

/** The `structuredContent` of a call that returned while its run goes on: `status: running` and the handle. */
export function structuredRunning(step: RunningStep): Record<string, unknown> {
  return {
    status: 'running',
    stdout: step.stdout,
    stderr: step.stderr,
    durationMs: step.elapsedMs,
    ...(step.truncated ? { truncated: step.truncated } : {}),
    wait: step.handle,
  };
}

/** The output since the last return, and how to wait for more. */
export function formatRunning(step: RunningStep, timeoutMs: number, mode: OutputMode): string {
  const seconds = (ms: number) => `${Number((ms / 1000).toFixed(1))} s`;
  const next =
    `[still running after ${seconds(step.elapsedMs)} (its timeout: ${seconds(timeoutMs)}): call run_python ` +
    `with wait="${step.handle}" for the output since and the result]`;
  if (mode === 'toon') return `\`\`\`toon\n${encode(structuredRunning(step))}\n\`\`\`\n${next}`;
  const parts: string[] = [];
  if (step.stdout) parts.push(trimNewline(step.stdout));
  if (step.stderr) parts.push(`[stderr]\n${trimNewline(step.stderr)}`);
  parts.push(next);
  return parts.join('\n');
}

function trimNewline(text: string): string {
  return text.endsWith('\n') ? text.slice(0, -1) : text;
}

/** A tool result that is an error the model reads (not a protocol error): a bad call, a gone handle. */
export function toolError(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}
