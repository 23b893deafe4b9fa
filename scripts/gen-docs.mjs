// `npm run docs`, after the build: writes docs/cli.md and the environment-variable table of
// docs/configuration.md from the tables `--help` prints (src/cli/reference-docs.ts renders them).
// test/unit/cli/reference-docs.test.ts fails while the committed pages differ from what this writes.
import { readFileSync, writeFileSync } from 'node:fs';
import { renderCliReference, renderConfigurationPage } from '../dist/cli/reference-docs.js';

const DOCS = new URL('../docs/', import.meta.url);

function update(name, render) {
  const file = new URL(name, DOCS);
  const before = readFileSync(file, 'utf8');
  const after = render(before);
  if (after === before) return;
  writeFileSync(file, after);
  process.stderr.write(`wrote docs/${name}\n`);
}

update('cli.md', () => renderCliReference());
update('configuration.md', (page) => renderConfigurationPage(page));
