import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTypeScript, startBridge, summary, sleep } from './lib.mjs';
const root = mkdtempSync(join(tmpdir(), 's35b-'));
const results = {};
for (const max of (process.env.MAXES ?? '16,32').split(',')) {
  const bridge = await startBridge({ MCP_BRIDGE_LANGUAGES: 'typescript', MCP_BRIDGE_TYPECHECK: process.env.CHECK ?? 'off', MCP_BRIDGE_POOL_MAX: max, MCP_BRIDGE_STATE_DIR: join(root, 'state') });
  for (let i = 0; i < 3; i++) await runTypeScript(bridge.client, 'console.log(1);', { timeout: 120 });
  const p50s = [];
  for (let round = 0; round < 4; round++) {
    await sleep(3000);
    const times = [];
    for (let i = 0; i < 30; i++) times.push((await runTypeScript(bridge.client, 'console.log(1);')).ms);
    p50s.push(summary(times).p50.toFixed(1) + ' [' + times.map((t) => t.toFixed(0)).join(' ') + ']');
  }
  results[max] = p50s;
  console.log('max', max, '\n ', p50s.join('\n  '));
  await bridge.close();
}
