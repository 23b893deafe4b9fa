/** The benchmarks import the built code; a renamed export must break a test, not `npm run bench` later. */
import { describe, expect, it } from 'vitest';

/** A bench module by name (untyped JavaScript: the import is typed where it is used). */
const loadBench = (file: string): Promise<unknown> => import(`../../bench/${file}.mjs`);

describe('bench modules', () => {
  it.each([
    ['container', 'benchContainer'],
    ['upstream', 'benchUpstream'],
    ['embedded', 'benchEmbedded'],
    ['discovery', 'benchDiscovery'],
    ['performance', 'benchPerformance'],
    ['typescript-isolation', 'benchTypeScriptIsolation'],
    ['telemetry', 'benchTelemetry'],
    ['soak', 'soak'],
  ])('bench/%s.mjs loads and exports %s', async (file, name) => {
    const module = (await import(`../../bench/${file}.mjs`)) as Record<string, unknown>;
    expect(typeof module[name]).toBe('function');
  });
});

describe('the soak plan', () => {
  it('draws every kind a sandbox runs, and on Monty none of the full-Python features it refuses', async () => {
    const { planRuns } = (await loadBench('soak')) as {
      planRuns: (options: { runs: number; seed: number; backend: string }) => Array<{ kind: string }>;
    };
    const { kindsFor } = (await loadBench('soak-kinds')) as {
      kindsFor: (backend: string) => Array<[string, unknown, number]>;
    };
    for (const backend of ['podman', 'embedded', 'monty']) {
      const drawn = new Set(planRuns({ runs: 2000, seed: 1, backend }).map((plan) => plan.kind));
      expect([...drawn].sort()).toEqual(
        kindsFor(backend)
          .map(([name]) => name)
          .sort(),
      );
    }
    const monty = kindsFor('monty').map(([name]) => name);
    expect(monty.filter((name) => /^(value|skill|session)-|^forget$/.test(name))).toEqual([]);
    expect(monty).toEqual(expect.arrayContaining(['approve-accept', 'approve-unanswered', 'kill']));
    // Seeded: the same plan twice.
    expect(planRuns({ runs: 50, seed: 7, backend: 'podman' })).toEqual(
      planRuns({ runs: 50, seed: 7, backend: 'podman' }),
    );
  });
});
