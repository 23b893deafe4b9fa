import { defineConfig } from 'vitest/config';

/**
 * Three tiers, run in this order by `npm test` (each after the one before has finished):
 * - unit: pure logic in-process, the MCP surface over an in-memory transport included; no child
 *   process, no socket, no container. A few seconds in all, so a test that waits longer is a bug.
 * - integration: real child processes (upstream servers, python3, shells) and the built bench
 *   modules; no sandbox.
 * - e2e: the built bridge as a child process with real sandboxes (podman under runc and gVisor,
 *   Deno); the global setup fails them under CI when a container engine or runsc is missing.
 */
export default defineConfig({
  test: {
    // Two cores here; the integration and e2e tiers start bridges, containers and servers.
    fileParallelism: true,
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 5_000,
          hookTimeout: 5_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          globalSetup: ['test/global-setup.ts'],
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
