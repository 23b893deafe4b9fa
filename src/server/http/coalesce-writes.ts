/**
 * One write per short MCP response. The SDK answers a POST as a server-sent-event stream, and the
 * adapter under it writes that stream's headers, its one event and its end as three socket writes,
 * each a system call that wakes the client: on `serve --http` they were the largest part of the
 * bridge's main-thread time per run (measured). The response's socket is corked until the response
 * ends, so a response that ends within `holdMs` goes out in one write; one that takes longer is
 * uncorked then and streams as before (its headers and first events at most `holdMs` late, well
 * under the sandboxes' own print flush and a person's reaction to an approval prompt).
 */
import type { ServerResponse } from 'node:http';

export function coalesceWrites(response: ServerResponse, holdMs: number): void {
  response.cork();
  // `end()` uncorks the socket fully; a response still open at `holdMs` is uncorked here.
  const timer = setTimeout(() => {
    if (!response.writableEnded) response.uncork();
  }, holdMs);
  timer.unref();
  response.once('close', () => clearTimeout(timer));
}
