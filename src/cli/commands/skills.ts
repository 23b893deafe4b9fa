/**
 * `codemode-bridge skills`: list, show, remove and publish the skills programs saved with `save_tool`.
 * It acts as the local user (an admin of its own bridge), or with `--principal ID` in that principal's
 * namespace; `--shared` shows or removes a published skill (skill-namespaces.ts).
 */
import { parseArgs } from 'node:util';
import { LOCAL_PRINCIPAL_ID, localPrincipal, type Principal } from '../../engine/principal.js';
import { skillGrant } from '../../engine/skills/skill-grant.js';
import { visibleGrant } from '../../engine/skills/skill-namespaces.js';
import { HostCallError } from '../../sandbox/types.js';
import { createSkillNamespaces } from '../compose.js';
import { UsageError } from '../context.js';
import type { Settings } from '../settings.js';

const USAGE =
  'skills [list] | skills show NAME [--version N] [--shared] | skills remove NAME [--version N] [--shared] | ' +
  "skills publish NAME; --principal ID acts in that principal's namespace; add --json for JSON";

function parseVersion(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[1-9][0-9]{0,8}$/.test(text))
    throw new UsageError(`--version must be a positive integer, not '${text}'`);
  return Number(text);
}

function firstLine(text: string | undefined): string {
  return (text ?? '').trim().split('\n')[0]?.trim() ?? '';
}

/** Who the command acts as: the local user, or (`--principal`) an admin acting in that namespace. */
function actingAs(id: string | undefined): Principal {
  if (id === undefined || id === LOCAL_PRINCIPAL_ID) return localPrincipal();
  if (id === '' || id.length > 255) throw new UsageError(`--principal takes a principal's id, not '${id}'`);
  return { id, name: id, role: 'admin' };
}

export async function skills(args: string[], settings: Settings): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      json: { type: 'boolean' },
      version: { type: 'string' },
      shared: { type: 'boolean' },
      principal: { type: 'string' },
    },
  });
  const [action = 'list', name, ...extra] = positionals;
  const version = parseVersion(values.version);
  const namespaces = createSkillNamespaces(settings);
  const principal = actingAs(values.principal);
  const store = values.shared ? namespaces.shared : namespaces.own(principal.id);
  const write = (text: string) => process.stdout.write(text);
  try {
    switch (action) {
      case 'list': {
        if (name !== undefined || version !== undefined) throw new UsageError(USAGE);
        const list = await namespaces.visible(principal);
        if (values.json) {
          const rows = list.map((skill) => {
            const { source: _source, ...row } = visibleGrant(skill, skillGrant(skill));
            return row;
          });
          write(
            `${JSON.stringify({ dir: store.dir, shared: namespaces.shared.dir, skills: rows }, null, 2)}\n`,
          );
          return 0;
        }
        if (list.length === 0) {
          write(
            `No saved skills in ${store.dir} or ${namespaces.shared.dir}.\nIn run_python, save_tool(func) keeps a function for later runs.\n`,
          );
          return 0;
        }
        for (const skill of list) {
          const versions = skill.versions.length > 1 ? ` (versions ${skill.versions.join(', ')})` : '';
          const saved = skill.savedAt
            ? `, saved ${skill.savedAt}${skill.savedBy ? ` by ${skill.savedBy.name}` : ''}`
            : '';
          const whose =
            skill.origin === 'shared'
              ? `  [shared by ${(skill.author ?? skill.savedBy)?.name ?? 'unknown'}]`
              : skill.shadows
                ? `  [own; hides the shared one by ${skill.shadows.author}]`
                : '';
          write(
            `${skill.isAsync ? 'async ' : ''}${skill.name}${skill.signature || '(...)'}  version ${skill.version}${versions}${saved}${whose}\n`,
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
        const by = found.header.savedBy ? ` by ${found.header.savedBy.name}` : '';
        const saved = found.header.savedAt ? `, saved ${found.header.savedAt}${by}` : '';
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
          write(`Removed ${which} of ${values.shared ? 'shared ' : ''}skill ${name}.\n`);
        }
        return 0;
      }
      case 'publish': {
        if (name === undefined || extra.length > 0 || version !== undefined || values.shared) {
          throw new UsageError(USAGE);
        }
        const published = await namespaces.publish(principal, name);
        if (values.json) write(`${JSON.stringify(published)}\n`);
        else write(`Published ${name} as version ${published.version} of the shared skill ${name}.\n`);
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
