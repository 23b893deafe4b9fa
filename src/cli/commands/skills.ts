/** `codemode-bridge skills`: list, show and remove the skills programs saved with `save_tool`. */
import { parseArgs } from 'node:util';
import { skillGrant } from '../../engine/skills/skill-grant.js';
import { HostCallError } from '../../sandbox/types.js';
import { createSkillStore } from '../compose.js';
import { UsageError } from '../context.js';
import type { Settings } from '../settings.js';

const USAGE =
  'skills [list] | skills show NAME [--version N] | skills remove NAME [--version N]; add --json for JSON';

function parseVersion(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[1-9][0-9]{0,8}$/.test(text))
    throw new UsageError(`--version must be a positive integer, not '${text}'`);
  return Number(text);
}

function firstLine(text: string | undefined): string {
  return (text ?? '').trim().split('\n')[0]?.trim() ?? '';
}

export async function skills(args: string[], settings: Settings): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: 'boolean' }, version: { type: 'string' } },
  });
  const [action = 'list', name, ...extra] = positionals;
  const version = parseVersion(values.version);
  const store = createSkillStore(settings);
  const write = (text: string) => process.stdout.write(text);
  try {
    switch (action) {
      case 'list': {
        if (name !== undefined || version !== undefined) throw new UsageError(USAGE);
        const list = await store.list();
        if (values.json) {
          const rows = list.map((skill) => {
            const { source: _source, ...row } = skillGrant(skill);
            return row;
          });
          write(`${JSON.stringify({ dir: store.dir, skills: rows }, null, 2)}\n`);
          return 0;
        }
        if (list.length === 0) {
          write(
            `No saved skills in ${store.dir}.\nIn run_python, save_tool(func) keeps a function for later runs.\n`,
          );
          return 0;
        }
        for (const skill of list) {
          const versions = skill.versions.length > 1 ? ` (versions ${skill.versions.join(', ')})` : '';
          const saved = skill.savedAt ? `, saved ${skill.savedAt}` : '';
          write(
            `${skill.isAsync ? 'async ' : ''}${skill.name}${skill.signature || '(...)'}  version ${skill.version}${versions}${saved}\n`,
          );
          const about = firstLine(skill.description);
          if (about) write(`  ${about}\n`);
          if (skill.servers.length > 0) write(`  uses: ${skill.servers.join(', ')}\n`);
          if (skill.error) write(`  ERROR: ${skill.error}\n`);
        }
        return 0;
      }
      case 'show': {
        if (name === undefined || extra.length > 0) throw new UsageError(USAGE);
        const found = await store.read(name, version);
        if (values.json) {
          write(
            `${JSON.stringify({ ...found.header, name, version: found.version, versions: found.versions, source: found.source }, null, 2)}\n`,
          );
          return 0;
        }
        const saved = found.header.savedAt ? `, saved ${found.header.savedAt}` : '';
        write(`# skill ${name}, version ${found.version} of ${found.versions.join(', ')}${saved}\n`);
        write(found.source.endsWith('\n') ? found.source : `${found.source}\n`);
        return 0;
      }
      case 'remove': {
        if (name === undefined || extra.length > 0) throw new UsageError(USAGE);
        const removed = await store.delete(name, version);
        if (values.json) write(`${JSON.stringify(removed)}\n`);
        else {
          const which =
            version === undefined ? `every version (${removed.deleted.join(', ')})` : `version ${version}`;
          write(`Removed ${which} of skill ${name}.\n`);
        }
        return 0;
      }
      default:
        throw new UsageError(`unknown skills action '${action}'. Usage: codemode-bridge ${USAGE}`);
    }
  } catch (error) {
    if (!(error instanceof HostCallError)) throw error;
    process.stderr.write(`codemode-bridge: ${error.message}\n`);
    return 1;
  }
}
