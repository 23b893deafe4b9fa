// Issue 9: no host operation a run can call may hold the bridge's only thread for more than a few ms.
// Two views, each beside a baseline measured in this run:
// 1. in process: the worst search a run can ask for (a 2,000-character query, the cap, of distinct
//    words) over a catalog of 2,000 tools, against an ordinary five-word query;
// 2. through the bridge: the latency of an MCP `ping` while a run sends search_tool_docs queries of
//    that worst kind back to back, against the same ping while the bridge is idle.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSearchIndex, searchTools } from '../dist/upstream/search.js';
import { EVERYTHING, fmt, percentile, ratio, startBridge } from './lib.mjs';

const CATALOG_TOOLS = 2_000;
const QUERY_CAP = 2_000;
const PINGS = 200;
const SEARCH_LOOP_S = 8;

function syntheticCatalog() {
  const words = ['read', 'write', 'list', 'search', 'create', 'delete', 'file', 'issue', 'page', 'user'];
  const servers = [];
  for (let s = 0; s < 20; s++) {
    const tools = [];
    for (let t = 0; t < CATALOG_TOOLS / 20; t++) {
      const name = `${words[t % 10]}_${words[(t * 7 + s) % 10]}_${t}`;
      tools.push({
        name,
        alias: name,
        description: `Does ${words[(t + 3) % 10]} work on a ${words[(t + s) % 10]} item number ${t} of server ${s}.`,
        inputSchema: {
          type: 'object',
          properties: { path: { type: 'string', description: 'Where to act.' }, count: { type: 'number' } },
        },
      });
    }
    servers.push({ name: `server${s}`, alias: `server${s}`, tools });
  }
  return servers;
}

/** A query at the cap made of distinct made-up words: the most terms and text a run can send. */
function worstQuery() {
  let query = '';
  for (let i = 0; query.length < QUERY_CAP - 12; i++) query += `w${i.toString(36)}x${i} `;
  return query.slice(0, QUERY_CAP);
}

function timeSearches(index, query, reps) {
  const times = [];
  for (let i = 0; i < reps; i++) {
    const started = performance.now();
    searchTools(index, query, 10);
    times.push(performance.now() - started);
  }
  return times;
}

async function pings(client, n) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    await client.ping();
    times.push(performance.now() - started);
  }
  return times;
}

export async function benchHostOps() {
  console.log('\n## Host operations and the event loop (issue 9)');
  const index = buildSearchIndex(syntheticCatalog());
  const ordinary = timeSearches(index, 'read a file from disk', 200);
  const worst = timeSearches(index, worstQuery(), 200);
  console.log(
    `one search over ${CATALOG_TOOLS} tools, in process: worst query (${QUERY_CAP} chars) p50 ${fmt(percentile(worst, 50))}, ` +
      `max ${fmt(Math.max(...worst))}; five-word query p50 ${fmt(percentile(ordinary, 50))} ` +
      `(${ratio(percentile(worst, 50), percentile(ordinary, 50))})`,
  );

  const root = mkdtempSync(join(tmpdir(), 'codemode-bench-hostops-'));
  const config = join(root, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({ mcpServers: { everything: { command: process.execPath, args: [EVERYTHING] } } }),
  );
  const bridge = await startBridge({ MCP_BRIDGE_CONFIG: config, HOME: root, MCP_BRIDGE_STATE_DIR: root });
  try {
    await bridge.client.callTool({
      name: 'run_python',
      arguments: { code: 'import mcp.runtime as rt\nawait rt.search_tool_docs("echo")' },
    });
    const idle = await pings(bridge.client, PINGS);
    const code = [
      'import time, mcp.runtime as rt',
      `query = ${JSON.stringify(worstQuery())}`,
      'n = 0',
      `end = time.monotonic() + ${SEARCH_LOOP_S}`,
      'while time.monotonic() < end:',
      '    await rt.search_tool_docs(query, limit=10)',
      '    n += 1',
      'print(n)',
    ].join('\n');
    const hammer = bridge.client.callTool(
      { name: 'run_python', arguments: { code, timeout: SEARCH_LOOP_S + 30 } },
      undefined,
      { timeout: (SEARCH_LOOP_S + 60) * 1000 },
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const busy = await pings(bridge.client, PINGS);
    const searches = (await hammer).content?.[0]?.text;
    console.log(
      `MCP ping while a run sends worst-case searches back to back (${searches} in ${SEARCH_LOOP_S} s): ` +
        `p50 ${fmt(percentile(busy, 50))}, p99 ${fmt(percentile(busy, 99))}, max ${fmt(Math.max(...busy))}; ` +
        `idle ping p50 ${fmt(percentile(idle, 50))}, p99 ${fmt(percentile(idle, 99))} ` +
        `(p99 ${ratio(percentile(busy, 99), percentile(idle, 99))})`,
    );
  } finally {
    await bridge.close();
    rmSync(root, { recursive: true, force: true });
  }
}
