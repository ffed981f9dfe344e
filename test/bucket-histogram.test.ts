/**
 * The worker's histograms (src/telemetry/bucket-histogram.ts) keep their own counts, so that an
 * observation on the hot path is cheap; what a scrape reads must stay what prom-client's own
 * Histogram would expose for the same observations, line for line.
 */
import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BucketHistogram } from '../src/telemetry/bucket-histogram.js';

const BOUNDS = [0.001, 0.005, 0.01, 0.5, 1, 2.5, 60];

function pair(label?: string) {
  const ours = new Registry();
  const theirs = new Registry();
  const h = new BucketHistogram('t_seconds', 'how long', BOUNDS, label, ours);
  const p = new Histogram({ name: 't_seconds', help: 'how long', buckets: BOUNDS, labelNames: label ? [label] : [], registers: [theirs] });
  return { ours, theirs, h, p };
}

// values on the bounds themselves, between them, below the first and past the last
const value = fc.oneof(fc.constantFrom(0, ...BOUNDS, 61, 1e9), fc.double({ min: -1, max: 100, noNaN: true }));

describe('the worker histograms', () => {
  it('expose what prom-client exposes for the same observations, per function', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom('noop', 'resize', 'a "quoted" \\ name'), value), { maxLength: 60 }), async (obs) => {
        const { ours, theirs, h, p } = pair('function');
        for (const [fn, v] of obs) {
          h.series(fn).observe(v);
          p.observe({ function: fn }, v);
        }
        expect(await ours.metrics()).toBe(await theirs.metrics());
      }),
      { numRuns: 200 },
    );
  });

  it('expose what prom-client exposes without a label, and nothing after a reset', async () => {
    const { ours, theirs, h, p } = pair();
    for (const v of [0, 0.001, 0.002, 3, 70]) {
      h.observe(v);
      p.observe(v);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain('t_seconds_bucket{le="0.001"} 2');
    h.reset();
    p.reset();
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it("keep counting in a series found before the registry's resetMetrics(), as prom-client counts what is observed after it", async () => {
    const { ours, theirs, h, p } = pair('function');
    // (the worker finds a function's series once, at its first claim, and keeps it)
    const noop = h.series('noop');
    noop.observe(0.002);
    p.observe({ function: 'noop' }, 0.002);
    ours.resetMetrics();
    theirs.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    noop.observe(2);
    p.observe({ function: 'noop' }, 2);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain('t_seconds_count{function="noop"} 1');
  });

  it('expose what prom-client exposes before any observation: zeros without a label, nothing for a function whose series is made and not yet observed', async () => {
    const bare = pair();
    expect(await bare.ours.metrics()).toBe(await bare.theirs.metrics());
    expect(await bare.ours.metrics()).toContain('t_seconds_count 0');
    // (the worker makes a function's series at its first claim: a run not ended yet, or a task
    // without queued_at, observes nothing in it)
    const labelled = pair('function');
    labelled.h.series('noop');
    labelled.h.series('resize').observe(1);
    labelled.p.observe({ function: 'resize' }, 1);
    expect(await labelled.ours.metrics()).toBe(await labelled.theirs.metrics());
  });

  it('refuses what prom-client refuses: a value that is not a number, a label it does not have', () => {
    const { h } = pair();
    expect(() => h.observe(Number.NaN)).toThrow(/not a valid number/);
    expect(() => h.series('noop')).toThrow(/has no label/);
  });
});
