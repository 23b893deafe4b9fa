/**
 * `/workspace`, as programs written for the reference bridge (mcp-server-code-execution-mode) expect
 * it: the working directory and HOME, writable, not executable (containers), and empty at every run.
 * Once per backend: containers under each OCI runtime, and the embedded sandbox.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBridge, startBridge } from '../helpers/bridge.js';
import { containerSupport, ociRuntimes } from '../helpers/environment.js';

/** A cold embedded start builds the snapshot meanwhile; on two busy cores that takes a while. */
const COLD_START_MS = 240_000;

const WRITE_AND_READ = `
import os, json
with open("notes.txt", "w") as f:
    f.write("written in this run")
with open(os.path.expanduser("~/deep.txt"), "w") as f:
    f.write("x" * 1_000_000)
print(json.dumps({
    "cwd": os.getcwd(),
    "home": os.environ.get("HOME"),
    "expanded": os.path.expanduser("~"),
    "read": open("/workspace/notes.txt").read(),
    "size": os.path.getsize("/workspace/deep.txt"),
    "files": sorted(os.listdir("/workspace")),
}))
`;

const EMPTY_NEXT_TIME = `
import os, json
print(json.dumps({"cwd": os.getcwd(), "files": sorted(os.listdir("/workspace"))}))
`;

const EXECUTE = `
import os, subprocess
with open("/workspace/tool.sh", "w") as f:
    f.write("#!/bin/sh\\necho ran\\n")
os.chmod("/workspace/tool.sh", 0o755)
try:
    subprocess.run(["/workspace/tool.sh"], check=True, capture_output=True)
    print("executed")
except PermissionError as error:
    print("refused", error.errno)
`;

function expectWorkspace(bridge: () => RunningBridge): void {
  it('is the working directory and HOME, and a file written there can be read back', async () => {
    const result = await bridge().runPython({ code: WRITE_AND_READ });
    expect(result.structured.status).toBe('ok');
    expect(JSON.parse(result.text)).toEqual({
      cwd: '/workspace',
      home: '/workspace',
      expanded: '/workspace',
      read: 'written in this run',
      size: 1_000_000,
      files: ['deep.txt', 'notes.txt'],
    });
  });

  it('is empty again at the next run', async () => {
    await bridge().runPython({ code: 'open("/workspace/leftover.txt", "w").write("x")' });
    const result = await bridge().runPython({ code: EMPTY_NEXT_TIME });
    expect(JSON.parse(result.text)).toEqual({ cwd: '/workspace', files: [] });
  });
}

const { skipReason } = containerSupport();

describe.skipIf(skipReason)(
  `/workspace in containers${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    describe.each(ociRuntimes())('under %s', (ociRuntime) => {
      let bridge: RunningBridge;
      beforeAll(async () => {
        bridge = await startBridge({ MCP_BRIDGE_OCI_RUNTIME: ociRuntime, MCP_BRIDGE_WORKSPACE_SIZE: '8m' });
      });
      afterAll(async () => {
        await bridge?.close();
      });

      expectWorkspace(() => bridge);

      it('does not execute files written there (noexec)', async () => {
        const result = await bridge.runPython({ code: EXECUTE });
        expect(result.text).toBe('refused 13');
      });

      it('holds at most MCP_BRIDGE_WORKSPACE_SIZE', async () => {
        const result = await bridge.runPython({
          code: 'try:\n    open("big", "wb").write(b"x" * (9 << 20))\nexcept OSError as e:\n    print("full", e.errno)',
        });
        // ENOSPC
        expect(result.text).toBe('full 28');
      });
    });
  },
);

describe('/workspace in the embedded sandbox', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'codemode-workspace-state-'));
  let bridge: RunningBridge;
  beforeAll(async () => {
    bridge = await startBridge({ MCP_BRIDGE_RUNTIME: 'embedded', MCP_BRIDGE_STATE_DIR: stateDir });
    // The first run starts cold while the snapshot is built.
    expect((await bridge.runPython({ code: 'print("warm")', timeout: 120 })).text).toBe('warm');
  }, COLD_START_MS);
  afterAll(async () => {
    await bridge?.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  expectWorkspace(() => bridge);
});
