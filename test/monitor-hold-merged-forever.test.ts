/**
 * The holds are bounded (MAX_HOLDS): past it the two oldest are merged into one, from the first's
 * `from` to the second's `until` (machines/monitor.ts holdsAfterLoss). A link that drops more
 * than MAX_HOLDS times per taskTimeout (taskTimeout 30 s, the default, and a drop every 400 ms: a
 * proxy or a NAT resetting connections) merges at every loss: the merged hold's `until` moves on
 * with each loss as fast as time does, and its `from`, the first loss's, never moves. It never
 * ends while the drops go on, and each sweep takes only what was stale at the first loss: a task
 * whose worker died after it is never requeued (where the docs say at most one taskTimeout late).
 */
import { describe, expect, it } from 'vitest';
import { holdsAfterLoss, holdsAfterSweep, MAX_HOLDS, type Hold, type SweepResult } from '../machines/monitor.js';

const sweepResult = (now: number): SweepResult => ({ requeued: [], parked: [], reaped: 0, now, nextDeadline: -1 });

describe('holds over MAX_HOLDS drops a taskTimeout', () => {
  it('the oldest one still ends, so a task whose worker died after it is requeued', () => {
    const taskTimeout = 30_000;
    const every = 400; // a drop every 400 ms: 75 per taskTimeout, over MAX_HOLDS
    expect(taskTimeout / every).toBeGreaterThan(MAX_HOLDS);
    let holds: Hold[] = [];
    let heldFrom: number | undefined;
    // the monitor sweeps 50 ms after each return (its first sweep back), for 10 taskTimeouts
    for (let t = 100_000; t < 100_000 + 10 * taskTimeout; t += every) {
      holds = holdsAfterLoss({ holds, lastSweep: sweepResult(t) });
      heldFrom = holds[0]?.from; // what the next sweep is judged at
      holds = holdsAfterSweep(holds, t + 50, taskTimeout);
    }
    const end = 100_000 + 10 * taskTimeout;
    // a worker dead at 100 s + 1 taskTimeout: its lease stale from 100 s + 2 taskTimeouts; by the end
    // (10 taskTimeouts on), the sweep must take it (judged at a time after it went stale)
    const diedAt = 100_000 + taskTimeout;
    expect(heldFrom! - taskTimeout, `the sweep at ${end} requeues what was stale at ${heldFrom}`).toBeGreaterThan(diedAt);
    // and the oldest loss still held lags now by about a taskTimeout, as with no bound
    expect(end - heldFrom!).toBeLessThan(1.5 * taskTimeout);
  });
});
