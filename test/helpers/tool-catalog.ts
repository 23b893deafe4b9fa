/**
 * The real tool catalog of the three reference upstream servers (npm devDependencies), fetched over
 * stdio with the MCP SDK client, in the `ServerDescription` shape the bridge builds.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { assignAliases } from '../../src/upstream/config/alias.js';
import type { ServerDescription } from '../../src/upstream/upstream-pool.js';
import { serverEntry } from './upstreams.js';

const LIST_TIMEOUT_MS = 30_000;

async function listAllTools(client: Client): Promise<Tool[]> {
  const tools: Tool[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : {}, { timeout: LIST_TIMEOUT_MS });
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  return tools;
}

async function describeServer(
  name: string,
  alias: string,
  args: string[],
  env: Record<string, string>,
): Promise<ServerDescription> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args,
    env: { ...getDefaultEnvironment(), ...env },
    stderr: 'pipe',
  });
  // Kept for the error message: a server that fails to start says why on stderr.
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  const client = new Client({ name: 'tool-catalog', version: '0.0.0' });
  let tools: Tool[];
  let description: string | undefined;
  try {
    await client.connect(transport);
    tools = await listAllTools(client);
    // The bridge summarises a server by the first line of its instructions, so the catalog does too.
    description = client.getInstructions()?.trim().split('\n')[0];
  } catch (error) {
    throw new Error(`MCP server '${name}' did not list its tools; stderr:\n${stderr}`, { cause: error });
  } finally {
    // close() ends the child (stdin close → SIGTERM → SIGKILL), also when connect failed half-way.
    await client.close().catch(() => {});
  }
  const aliases = assignAliases(tools.map((tool) => tool.name));
  return {
    name,
    alias,
    ...(description ? { description } : {}),
    tools: tools.map((tool) => ({
      name: tool.name,
      alias: aliases.get(tool.name) ?? tool.name,
      ...(tool.description ? { description: tool.description } : {}),
      inputSchema: tool.inputSchema as Record<string, unknown>,
    })),
  };
}

/**
 * Starts `everything`, `memory` (with a temporary `MEMORY_FILE_PATH`) and `filesystem` (rooted at a
 * temporary directory), lists every page of their tools and closes them again. Server and tool aliases
 * come from the same {@link assignAliases} the bridge uses.
 */
export async function loadReferenceCatalog(): Promise<ServerDescription[]> {
  const root = await mkdtemp(join(tmpdir(), 'codemode-catalog-'));
  try {
    const specs: Array<{ name: string; args: string[]; env: Record<string, string> }> = [
      { name: 'everything', args: [serverEntry('server-everything')], env: {} },
      {
        name: 'memory',
        args: [serverEntry('server-memory')],
        env: { MEMORY_FILE_PATH: join(root, 'memory.jsonl') },
      },
      { name: 'filesystem', args: [serverEntry('server-filesystem'), root], env: {} },
    ];
    const aliases = assignAliases(specs.map((spec) => spec.name));
    return await Promise.all(
      specs.map((spec) =>
        describeServer(spec.name, aliases.get(spec.name) ?? spec.name, spec.args, spec.env),
      ),
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
