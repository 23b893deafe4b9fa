// `npm run build`, after tsc: bundles the bridge into dist/cli/main.js, written over tsc's entry
// (the path every client configuration names), and the modules only `import()` reaches into chunks
// beside it (dist/cli/chunks/). Node then resolves, reads and compiles a few files instead of ~350
// (the bridge's, the SDK's, zod's, Ajv's), and only those of the command it runs: serving over stdio
// loads 0.9 MB of the 2 MB in 17 files, not telemetry, HTTP serving or the console. On a 2-core
// machine the initialize reply comes ~0.2 s sooner than from tsc's modules, and the first result
// 45–75 ms sooner than from one file holding everything (docs/architecture.md, "Start-up"). The
// rest of dist/ stays as tsc wrote it, for the benchmarks and anyone who imports a module.
//
// Whitespace goes, names stay: a stack trace still says which function threw, and
// `NODE_OPTIONS=--enable-source-maps` maps it back to tsc's modules (a .map beside each file).
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rolldown } from 'rolldown';

const ENTRY = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const OUT = dirname(ENTRY);
const CHUNKS = 'chunks';

const bundle = await rolldown({ input: ENTRY, platform: 'node', logLevel: 'warn' });
try {
  // Chunk names carry a content hash: without this, every build would leave the last one's behind.
  rmSync(join(OUT, CHUNKS), { recursive: true, force: true });
  await bundle.write({
    dir: OUT,
    format: 'esm',
    entryFileNames: 'main.js',
    chunkFileNames: `${CHUNKS}/[name]-[hash].js`,
    minify: { compress: false, mangle: false, codegen: { removeWhitespace: true } },
    sourcemap: true,
  });
} finally {
  await bundle.close();
}
