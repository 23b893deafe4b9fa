import { describe, expect, it } from 'vitest';
import { McpSurface } from '../../../../src/sandbox/monty/mcp-surface.js';
import { readFields } from '../../../../src/sandbox/monty/wire.js';
import type { ServerGrant } from '../../../../src/sandbox/types.js';

const server: ServerGrant = {
  name: 'docs-server',
  alias: 'docs_server',
  tools: [{ name: 'search', alias: 'search', inputSchema: { type: 'object', properties: {} } }],
};
const surface = (servers: ServerGrant[] = [server]) => new McpSurface({ servers, catalog: [] });

/** The names of the inputs a feed carries (field 2 of the feed: each a name and a value). */
function inputNames(encoded: Buffer): string[] {
  return [...readFields(encoded)].map((input) => {
    const name = [...readFields(input.value as Buffer)].find((part) => part.field === 1);
    return name ? (name.value as Buffer).toString('utf8') : '(no name)';
  });
}

describe("the Monty surface's inputs", () => {
  it('sends nothing to a program that names none of its globals', () => {
    expect(surface().encodedInputs('print(1)').length).toBe(0);
  });

  it('sends the globals a program names, each once', () => {
    const code = 'r = await mcp_docs_server.search()\nprint(mcp_docs_server, LOADED_MCP_SERVERS)';
    expect(inputNames(surface().encodedInputs(code)).sort()).toEqual([
      'LOADED_MCP_SERVERS',
      'mcp_docs_server',
    ]);
  });

  it('serves any other global when the program looks it up', () => {
    const value = surface().global('mcp_servers');
    expect(value?.kind).toBe('dict');
    expect(surface().global('mcp_unknown')).toBeUndefined();
  });

  it('builds one layout per list of servers and another for a new description', () => {
    const first = surface().encodedInputs('mcp_docs_server');
    expect(surface().encodedInputs('mcp_docs_server')).toBe(first);
    const changed: ServerGrant = { ...server, tools: [] };
    expect(surface([changed]).encodedInputs('mcp_docs_server')).not.toBe(first);
  });
});
