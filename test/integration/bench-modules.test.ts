/** The benchmarks import the built code; a renamed export must break a test, not `npm run bench` later. */
import { describe, expect, it } from 'vitest';

describe('bench modules', () => {
  it.each([
    ['container', 'benchContainer'],
    ['upstream', 'benchUpstream'],
    ['embedded', 'benchEmbedded'],
    ['discovery', 'benchDiscovery'],
    ['performance', 'benchPerformance'],
    ['typescript-isolation', 'benchTypeScriptIsolation'],
    ['telemetry', 'benchTelemetry'],
  ])('bench/%s.mjs loads and exports %s', async (file, name) => {
    const module = (await import(`../../bench/${file}.mjs`)) as Record<string, unknown>;
    expect(typeof module[name]).toBe('function');
  });
});
