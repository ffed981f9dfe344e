/**
 * (Passes: a guard.) In a swarm in partitions (`redis.partitions`, four on one Redis), a stop of
 * a task queued again after a claim, outside partition 0, reaches it: stop.lua and the cancel
 * that follows it are both run on the task's partition, which cancels it; no worker runs it
 * again, and nothing of it is left in any partition's queue.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { newTaskIdIn } from '../src/partitions.js';
import { expectCancelledForGood, handedBack } from './helpers/queued-again.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const N = 4;

describe('a stop of a task queued again, in a swarm in partitions', () => {
  for (const part of [1, 3]) {
    it(`partition ${part}: cancelled, not run again`, async () => {
      const r = { port: server.port, keyPrefix: `{stop-parts-${part}}:`, partitions: N };
      const c = new Client({ redis: r });
      cleanup.push(() => c.close());
      const id = await handedBack(r, c, cleanup, 'job', { id: newTaskIdIn(part, N), group: 'g' });
      expect(await c.get(id)).toMatchObject({ state: 'QUEUED' });
      const queuedIn = await redis.keys(`{stop-parts-${part}:${part}*}:*:f:*`);
      expect(queuedIn.length).toBeGreaterThan(0);
      await expectCancelledForGood(r, c, cleanup, [id], 'job');
      expect(await redis.keys(`{stop-parts-${part}:*}:*:f:*`)).toEqual([]);
    }, 30_000);
  }
});
