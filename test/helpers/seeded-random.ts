/**
 * A seeded source of numbers in [0, 1) for the fuzz and differential tests: the same seed gives the
 * same cases on every machine, so a failure names a seed that reproduces it. mulberry32: small, fast,
 * and good enough to spread cases; not for anything secret.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
