/**
 * A stop past its grace halts its running tasks and hands them back once every halted function
 * has returned (or abortTimeout has passed). A halted task whose function returns at once leaves
 * the worker's tasks (its record kept for the hand-back) while another halted function still
 * runs: its lease must still be heartbeated until it is handed back. Left unrenewed, with an
 * abortTimeout longer than the monitors' taskTimeout, a monitor took it for a dead worker's
 * task: requeued as a death (counted against maxAttempts: with 1, parked failed, a task lost),
 * not handed back by the stop as it should be.
 */
import { describe, expect, it } from 'vitest';
import { Client, Monitor, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { collectingLogger } from './helpers/collecting-logger.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe('a stop whose halted functions return one long after another', () => {
  it("keeps the lease of a halted task that returned at once until it is handed back: no monitor takes it for dead", async () => {
    const o = server.options();
    const m = new Monitor({ redis: o, taskTimeout: 1000, checkTaskInterval: 100, maxAttempts: 1, logger: quiet });
    await m.start();
    cleanup.push(() => m.stop());
    const { lines, logger } = collectingLogger();
    const w = new Worker({ port: 0, redis: o, logger, concurrency: 2, heartbeatInterval: 200, stopGrace: 100, abortTimeout: 4500 });
    const started = new Set<unknown>();
    w.addTaskFunction('work', async ({ data, signal }) => {
      started.add(data);
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      // 'quick' heeds its abort at once; 'slow' takes most of abortTimeout to return (2 s to spare,
      // for a loaded machine: a CI run's slow function passed 3 s, and was handed back apart)
      if (data === 'slow') await new Promise((r) => setTimeout(r, 2500));
      throw new Error('aborted');
    });
    cleanup.push(() => w.stop());
    await w.start();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const quick = await c.submit('work', 'quick');
    const slow = await c.submit('work', 'slow');
    // (both functions called: a task RUNNING in Redis may still be on its claim's way here, and a
    // stop hands such a claim's tasks back unrun, apart from the halted ones)
    await until(() => started.size === 2, 'both functions running');
    await w.stop();
    const [tq, ts] = await Promise.all([c.get(quick), c.get(slow)]);
    const died = (t: typeof tq) => (t?.history ?? []).filter((h) => h.outcome === 'died').length;
    expect({ state: tq?.state, died: died(tq) }, lines.join('\n')).toEqual({ state: 'QUEUED', died: 0 });
    expect({ state: ts?.state, died: died(ts) }, lines.join('\n')).toEqual({ state: 'QUEUED', died: 0 });
    expect(lines.filter((l) => /handed 2 task\(s\) back/.test(l)), lines.join('\n')).toHaveLength(1);
  }, 30_000);
});
