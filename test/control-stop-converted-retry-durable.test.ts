/**
 * redis.durable: a stop (control `stop` through the Client) that marks a task whose function has
 * failed, its retry END not written yet, which finish.lua writes as the task's end (`stopped`,
 * answered 2). The worker forgot the stop it kept for the retry's claim only once the END
 * settled, and a durable END settles after the replica's acknowledgement (WAIT, up to
 * durableTimeout: a replica lagging). Meanwhile the task reads END on the primary, and the same
 * id submitted again (its hash cleaned up, as endRetention 0 does) was claimed by the worker's
 * idle wait, which handed it the kept stop: it ended `stopped` though no one stopped it. It is
 * now forgotten as soon as Redis answers the END (EndBatch's onEnded), before the replicas' wait.
 * As control-stop-kept-after-converted-retry.test.ts, with a replica that is slow to acknowledge.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { buildKeys } from '../src/keys.js';
import { resolveRedisConfig } from '../src/config.js';
import { startReplicatedPair, type ReplicatedPair } from './helpers/replicated-pair.js';
import { until } from './helpers/redis-server.js';

let pair: ReplicatedPair;
beforeAll(async () => {
  pair = await startReplicatedPair();
});
afterAll(async () => {
  await pair?.close();
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const aborted = (signal: AbortSignal) => new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));

describe('redis.durable: a stop heard after a failed attempt settled, its retry END written as the end', () => {
  it('does not stop the same id submitted again while the END waits for the replica', async () => {
    const plain = { host: '127.0.0.1', port: pair.primaryPort, keyPrefix: 'dstop:' };
    const keys = buildKeys(resolveRedisConfig(plain));
    const redis = new Redis({ port: pair.primaryPort });
    const w = new Worker({ port: 0, redis: { ...plain, durable: true, durableTimeout: 3000 }, heartbeatInterval: 2000 });
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    w.addTaskFunction('flaky', async () => {
      await gate;
      throw new Error('first attempt fails');
    });
    w.addTaskFunction('fresh', (t) => Promise.race([aborted(t.signal).then(() => 'stopped'), sleep(500).then(() => 'ran')]));
    // (the Client is not durable: its submits do not wait for the frozen replica)
    const c = new Client({ redis: plain });
    try {
      await w.start();
      const x = await c.submit('flaky', null, { id: 'x', attempts: 3, backoff: 0 });
      await until(async () => (await c.get(x))?.state === 'RUNNING', 'the task running');
      await redis.set(keys.delayed, 'damaged');
      open();
      await sleep(300);
      expect((await c.get(x))?.state).toBe('RUNNING');
      await c.control(x, 'stop');
      await sleep(100);
      // the replica slow to acknowledge: the END, written on the primary, settles late
      pair.freeze();
      await redis.del(keys.delayed);
      expect(await c.wait(x, { timeout: 5000 })).toMatchObject({ outcome: 'stopped' });
      await redis.del(keys.task(x));
      await c.submit('fresh', null, { id: x });
      const end = await c.wait(x, { timeout: 5000 });
      pair.thaw();
      expect({ outcome: end.outcome, result: end.result }).toEqual({ outcome: 'succeeded', result: 'ran' });
    } finally {
      pair.thaw();
      await c.close();
      await w.stop();
      redis.disconnect();
    }
  }, 30_000);
});
