/**
 * A retry claimed again in its own END's reply, with redis.durable: the END (DELAYED, retry)
 * and the next claim of the same task travel in one script (finish-claim.lua), and a durable
 * END settles only after the replica's acknowledgement (WAIT, one more round trip), so the new
 * attempt's task machine starts while the old one still waits for its END. The old attempt was
 * told its lease was lost and counted abandoned, its trace span too, though its END was
 * written: each attempt ends as its END says.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Monitor, Worker } from '../src/index.js';
import { readExposition } from './helpers/exposition.js';
import { startReplicatedPair, type ReplicatedPair } from './helpers/replicated-pair.js';
import { until } from './helpers/redis-server.js';

let pair: ReplicatedPair;
beforeAll(async () => {
  pair = await startReplicatedPair();
});
afterAll(async () => {
  await pair?.close();
});

describe('a durable retry claimed in its own END reply', () => {
  it('counts each failed attempt as retried and none as abandoned; the second attempt is heartbeated as the task it is: run twice, no more', async () => {
    const redis = { host: '127.0.0.1', port: pair.primaryPort, keyPrefix: 'dretry:', durable: true };
    const runs = new Map<string, number>();
    const w = new Worker({ port: 0, redis, concurrency: 1, heartbeatInterval: 100 });
    w.addTaskFunction('flaky', async (t) => {
      runs.set(t.id, (runs.get(t.id) ?? 0) + 1);
      if (t.attempt === 1) throw new Error('first attempt fails');
      // longer than the monitor's taskTimeout: only its heartbeats keep it (the old attempt's
      // release must leave this claim's record, which they renew); a taskTimeout of ten
      // heartbeats, so that a loaded machine's late one is not taken for a dead worker
      await new Promise((r) => setTimeout(r, 1200));
      return t.attempt;
    });
    const m = new Monitor({ redis, taskTimeout: 1000, checkTaskInterval: 50 });
    const c = new Client({ redis });
    try {
      await w.start();
      await m.start();
      const ids = await Promise.all(Array.from({ length: 5 }, () => c.submit('flaky', null, { attempts: 2 })));
      for (const id of ids) expect(await c.wait(id, { timeout: 20_000 })).toMatchObject({ outcome: 'succeeded', attempt: 2 });
      const scrape = async () => readExposition(await w.metrics());
      await until(async () => (await scrape()).value('task_swarm_worker_tasks_ended_total') === 5, 'the ENDs counted');
      const e = await scrape();
      expect(e.value('task_swarm_worker_tasks_retried_total', { function: 'flaky' })).toBe(5);
      expect(e.value('task_swarm_worker_tasks_abandoned_total')).toBe(0);
      expect([...runs.values()]).toEqual(ids.map(() => 2));
    } finally {
      await c.close();
      await m.stop();
      await w.stop();
    }
  }, 60_000);
});
