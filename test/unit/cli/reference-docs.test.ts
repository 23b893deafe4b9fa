/**
 * docs/cli.md and the variable table of docs/configuration.md are generated from the tables `--help`
 * prints (`npm run docs`). These fail while the committed pages differ from what the generator writes,
 * or while the bridge reads a variable the tables do not describe.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALL_SETTINGS, COMMANDS, commandHelpText, commandNames, helpText } from '../../../src/cli/help.js';
import {
  renderCliReference,
  renderConfigurationPage,
  replaceGeneratedBlock,
} from '../../../src/cli/reference-docs.js';

const REPO = new URL('../../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, REPO), 'utf8');
const STALE = 'is stale: run `npm run docs` and commit the result';

/** Every `.ts` file under `dir` (a path relative to the repository), recursively. */
function sources(dir: string): string[] {
  return readdirSync(new URL(dir, REPO), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .map((name) => `${dir}/${name}`);
}

describe('generated references', () => {
  it('docs/cli.md is what the generator writes', () => {
    expect(read('docs/cli.md'), `docs/cli.md ${STALE}`).toBe(renderCliReference());
  });

  it("docs/configuration.md's variable table is what the generator writes", () => {
    const page = read('docs/configuration.md');
    expect(page, `the table in docs/configuration.md ${STALE}`).toBe(renderConfigurationPage(page));
  });

  it('describes every MCP_BRIDGE_* variable the bridge reads, once', () => {
    const documented = ALL_SETTINGS.map((setting) => setting.name);
    expect(new Set(documented).size).toBe(documented.length);
    const used = new Set<string>();
    for (const file of sources('src')) {
      for (const [name] of readFileSync(new URL(file, REPO), 'utf8').matchAll(
        /\bMCP_BRIDGE_[A-Z_]+|\bMCP_SERVERS_CONFIG\b/g,
      )) {
        // A prefix in prose (`MCP_BRIDGE_KEEP_OUTPUT_…`) names no variable.
        if (!name.endsWith('_')) used.add(name);
      }
    }
    expect([...used].filter((name) => !documented.includes(name)).sort()).toEqual([]);
  });

  it.each(commandNames())('%s --help prints the forms of that command only, and its details', (name) => {
    const help = commandHelpText(name, '0.0.0') ?? '';
    for (const command of COMMANDS) {
      const form = `codemode-bridge ${command.usage[0]}`;
      if (command.name === name) expect(help).toContain(form);
      else expect(help).not.toContain(`  ${form}`);
    }
    expect(help).toContain(`Reference: docs/cli.md#${name}, in the package.`);
    expect(help).not.toContain('Environment:');
    // Prose is wrapped to the terminal's 100 columns (the audit examples, indented code, are not).
    const prose = help.split('\n').filter((line) => !line.startsWith('    codemode-bridge'));
    for (const line of prose) expect(line.length).toBeLessThanOrEqual(100);
  });

  it('has no command help for a name that is not a command', () => {
    expect(commandHelpText('help', '0.0.0')).toBeUndefined();
    expect(commandHelpText('frobnicate', '0.0.0')).toBeUndefined();
  });

  it('--help prints every command form and every variable', () => {
    const help = helpText('0.0.0');
    for (const command of COMMANDS) expect(help).toContain(`codemode-bridge ${command.usage[0]}`);
    for (const setting of ALL_SETTINGS) expect(help).toContain(`  ${setting.name} `);
  });

  it('keeps the text around a generated block and refuses a page without markers', () => {
    const page = 'intro\n<!-- BEGIN GENERATED: t (note) -->\nold\n<!-- END GENERATED: t -->\noutro\n';
    expect(replaceGeneratedBlock(page, 't', 'new')).toBe(
      'intro\n<!-- BEGIN GENERATED: t (note) -->\nnew\n<!-- END GENERATED: t -->\noutro\n',
    );
    expect(() => replaceGeneratedBlock('intro\n', 't', 'new')).toThrow(/markers/);
  });
});
