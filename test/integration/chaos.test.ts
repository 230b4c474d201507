// A short seeded chaos schedule on each flavor (the long runs: `npm run chaos -- --seed N --rounds R`).
import { describe, expect, it } from 'vitest';
import { formatReport, runChaos } from '../chaos/chaos.js';
import { FLAVORS } from '../harness/flavors.js';

describe.each(FLAVORS)('chaos on $label', (f) => {
  it('seed 4, 3 rounds: every invariant holds after every round', async () => {
    const report = await runChaos({ seed: 4, rounds: 3, flavor: f.flavor });
    expect(report.rounds, formatReport(report)).toBe(3);
    expect(report.violations, formatReport(report)).toEqual([]);
    expect(report.acked).toBeGreaterThan(0);
    expect(report.writableSamples).toBeGreaterThan(0);
  }, 300_000);
});
