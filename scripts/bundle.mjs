// `npm run build`, after tsc: bundles the bridge into one file, written over tsc's dist/cli/main.js
// (the path every client configuration names). Node then resolves, reads and compiles one module
// instead of ~350 (the bridge's, the SDK's, zod's, Ajv's): the initialize reply comes 0.1–0.15 s
// sooner on a 2-core machine (docs/architecture.md, "Start-up"). The rest of dist/ stays as tsc
// wrote it, for the benchmarks and anyone who imports a module.
//
// Whitespace goes, names stay: a stack trace still says which function threw, and
// `NODE_OPTIONS=--enable-source-maps` maps it back to tsc's modules (dist/cli/main.js.map).
import { fileURLToPath } from 'node:url';
import { rolldown } from 'rolldown';

const ENTRY = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

const bundle = await rolldown({ input: ENTRY, platform: 'node', logLevel: 'warn' });
try {
  await bundle.write({
    file: ENTRY,
    format: 'esm',
    // One file: the modules only `import()` reaches (telemetry, HTTP serving, the other commands)
    // are still evaluated only when imported.
    codeSplitting: false,
    minify: { compress: false, mangle: false, codegen: { removeWhitespace: true } },
    sourcemap: true,
  });
} finally {
  await bundle.close();
}
