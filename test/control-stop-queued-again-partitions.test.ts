/**
 * (Passes: a guard.) In a swarm in partitions (`redis.partitions`, four on one Redis), a stop of
 * a task queued again after a claim, outside partition 0, reaches it: stop.lua and the cancel
 * that follows it are both run on the task's partition, which cancels it; no worker runs it
 * again, and nothing of it is left in any partition's queue.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { newTaskIdIn } from '../src/partitions.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const N = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a stop of a task queued again, in a swarm in partitions', () => {
  for (const part of [1, 3]) {
    it(`partition ${part}: cancelled, not run again`, async () => {
      const r = { port: server.port, keyPrefix: `{stop-parts-${part}}:`, partitions: N };
      const c = new Client({ redis: r });
      cleanup.push(() => c.close());
      let runs = 0;
      const w1 = new Worker({ port: 0, redis: r, stopGrace: 100 });
      w1.addTaskFunction('job', (t) => {
        runs++;
        return new Promise((_, reject) => t.signal.addEventListener('abort', () => reject(new Error('aborted'))));
      });
      cleanup.push(() => w1.stop());
      await w1.start();
      const id = await c.submit('job', null, { id: newTaskIdIn(part, N), group: 'g' });
      await until(async () => runs === 1, 'the task running');
      await w1.stop();
      expect(await c.get(id)).toMatchObject({ state: 'QUEUED' });
      const queuedIn = await redis.keys(`{stop-parts-${part}:${part}*}:*:f:*`);
      expect(queuedIn.length).toBeGreaterThan(0);
      expect(await c.control(id, 'stop')).toBe('cancelled');
      expect(await c.get(id)).toMatchObject({ state: 'END', outcome: 'cancelled' });
      const w2 = new Worker({ port: 0, redis: r });
      w2.addTaskFunction('job', async () => {
        runs++;
        return 'ran';
      });
      cleanup.push(() => w2.stop());
      await w2.start();
      await sleep(500);
      expect(runs).toBe(1);
      expect(await redis.keys(`{stop-parts-${part}:*}:*:f:*`)).toEqual([]);
    }, 30_000);
  }
});
