// Issue 6: the context a client pays for tools/list, through the bridge vs listing the upstreams directly.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { getEncoding } from 'js-tiktoken';
import { startBridge } from './lib.mjs';

const entry = (pkg) =>
  fileURLToPath(new URL(`../node_modules/@modelcontextprotocol/${pkg}/dist/index.js`, import.meta.url));

export async function benchDiscovery() {
  const encoder = getEncoding('o200k_base');
  const tokens = (value) => encoder.encode(JSON.stringify(value)).length;
  const root = mkdtempSync(join(tmpdir(), 'codemode-bench-'));
  const home = join(root, 'home');
  mkdirSync(join(home, 'files'), { recursive: true });
  const servers = {
    everything: { command: process.execPath, args: [entry('server-everything')] },
    memory: {
      command: process.execPath,
      args: [entry('server-memory')],
      env: { MEMORY_FILE_PATH: join(root, 'm.jsonl') },
    },
    filesystem: { command: process.execPath, args: [entry('server-filesystem'), join(home, 'files')] },
  };
  let direct = 0;
  const perServer = [];
  for (const [name, config] of Object.entries(servers)) {
    const client = new Client({ name: 'codemode-bench', version: '0' });
    await client.connect(new StdioClientTransport({ ...config, stderr: 'ignore' }));
    const listed = await client.listTools();
    const count = tokens(listed);
    perServer.push(`${name} ${count}`);
    direct += count;
    await client.close();
  }
  writeFileSync(join(home, '.claude.json'), JSON.stringify({ mcpServers: servers }));
  const bridge = await startBridge({ HOME: home });
  const ours = tokens(await bridge.client.listTools());
  await bridge.close();
  rmSync(root, { recursive: true, force: true });
  console.log('\n## Context cost of tools/list (o200k tokens)');
  console.log(`upstreams listed directly: ${direct} (${perServer.join(', ')})`);
  console.log(
    `codemode-bridge tools/list: ${ours}   reduction ${(direct / ours).toFixed(1)}× (${(100 - (100 * ours) / direct).toFixed(1)}% fewer)`,
  );
}
