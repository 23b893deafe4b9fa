// `npm run build`, after tsc: the files tsc does not emit but the bridge reads at run time (the web
// console's page, stylesheet and script, src/server/console/assets/) go beside tsc's modules in dist/.
import { cpSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const FROM = fileURLToPath(new URL('../src/server/console/assets/', import.meta.url));
const TO = fileURLToPath(new URL('../dist/server/console/assets/', import.meta.url));

rmSync(TO, { recursive: true, force: true });
cpSync(FROM, TO, { recursive: true });
