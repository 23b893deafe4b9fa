/**
 * How MCP_BRIDGE_MEMORY bounds an embedded worker (pure, unit-tested). Python's heap is WebAssembly
 * linear memory, capped exactly by V8 (`--wasm-max-mem-pages`): a bomb gets a clean `MemoryError`.
 * V8 heap flags do not bound wasm memory, and user code can reach JS, so the whole process also gets
 * an RLIMIT_DATA backstop with headroom for V8's own reservations (~0.7 GB of VmData at idle).
 */
import { BridgeError } from '../../shared/errors.js';

const WASM_PAGE_BYTES = 64 * 1024;
/** wasm32 addresses at most 4 GiB. */
const WASM_MAX_PAGES = 65_536;
const MIB = 1024 * 1024;
/** Below this Pyodide cannot load its standard library and the runtime. */
const MIN_EMBEDDED_MEMORY_BYTES = 64 * MIB;
/** The JS heap of a worker: Pyodide's JS side needs well under 100 MB. */
const JS_HEAP_MB = 256;
/** RLIMIT_DATA above the wasm cap: V8 reserves ~0.7 GB of address space at idle (512 MiB cannot boot). */
export const DATA_LIMIT_HEADROOM_BYTES = 1024 * MIB;

const UNIT_BYTES: Record<string, number> = { b: 1, k: 1024, m: MIB, g: 1024 * MIB };

/** Bytes of a size in the engines' syntax (`512m`, `2g`, `1048576`), as MCP_BRIDGE_MEMORY accepts it. */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([bkmg]?)$/i.exec(text.trim());
  if (!match)
    throw new BridgeError('CONFIG_INVALID', `${JSON.stringify(text)} is not a size such as 512m or 2g.`);
  const unit = (match[2] || 'b').toLowerCase();
  return Math.floor(Number(match[1]) * (UNIT_BYTES[unit] ?? 1));
}

export interface EmbeddedMemoryLimits {
  /** `--wasm-max-mem-pages`: the Python heap cap, in 64 KiB pages. */
  wasmMaxPages: number;
  /** RLIMIT_DATA for the whole worker process, bytes. */
  dataLimitBytes: number;
  /** The value of Deno's `--v8-flags=`. */
  v8Flags: string[];
}

export function embeddedMemoryLimits(memory: string): EmbeddedMemoryLimits {
  const bytes = parseSize(memory);
  if (bytes < MIN_EMBEDDED_MEMORY_BYTES) {
    throw new BridgeError(
      'CONFIG_INVALID',
      `MCP_BRIDGE_MEMORY=${memory} is too small for the embedded sandbox: Python in Pyodide needs at least ` +
        `${MIN_EMBEDDED_MEMORY_BYTES / MIB}m. Raise MCP_BRIDGE_MEMORY.`,
      { details: { variable: 'MCP_BRIDGE_MEMORY', value: memory } },
    );
  }
  const wasmMaxPages = Math.min(WASM_MAX_PAGES, Math.floor(bytes / WASM_PAGE_BYTES));
  return {
    wasmMaxPages,
    dataLimitBytes: wasmMaxPages * WASM_PAGE_BYTES + DATA_LIMIT_HEADROOM_BYTES,
    v8Flags: [`--wasm-max-mem-pages=${wasmMaxPages}`, `--max-old-space-size=${JS_HEAP_MB}`],
  };
}
