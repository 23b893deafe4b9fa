/**
 * Writes that leave together: every write to one stream in the same turn of the event loop (the 20
 * replies a gather of 20 calls settles at once, say) goes out in one `writev` when the turn ends,
 * instead of one syscall each. The order of writes is kept; a lone write waits only for the end of
 * the current tick.
 */
import type { Writable } from 'node:stream';

const corked = new WeakSet<Writable>();

export function writeBatched(
  stream: Writable,
  chunk: string,
  callback?: (error: Error | null | undefined) => void,
): boolean {
  if (!corked.has(stream)) {
    corked.add(stream);
    stream.cork();
    // After the promise jobs of this turn too: Node runs queued microtasks before the next tick.
    process.nextTick(() => {
      corked.delete(stream);
      stream.uncork();
    });
  }
  return stream.write(chunk, callback);
}
