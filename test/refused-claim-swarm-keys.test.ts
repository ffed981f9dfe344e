/**
 * A claim's step 2 (claimFrom, under pcall) refused by a swarm-wide key damaged by hand
 * (WRONGTYPE) after it has popped a task from its function's queue, or after it has written
 * the task RUNNING: the lease index, the `tasks` set or `counts` damaged, the task was taken
 * out of its queue and left QUEUED in no queue (lost: mended, it never runs); `running`
 * damaged under a rate-only limit, the task was left RUNNING for this worker, never told of it
 * (requeued a taskTimeout on as a death, at every claim). The refusal must come before the
 * task is touched: it stays queued, and runs once the key is mended.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { claimAs, fnGroupKey, keysFor } from './properties/harness.js';
import type { Keys } from '../src/keys.js';

let server: RedisServer;
let redis: Redis;
redisPerFile((s, r) => {
  server = s;
  redis = r;
});

/** a task of `fn` routed into its function's queue (by a worker of another function) */
async function queued(keys: Keys, id: string, fn: string): Promise<void> {
  await redis.lpush(keys.newQueue, JSON.stringify({ id, function: fn, group: 'g', data: 1 }));
  await claimAs(redis, keys, 'w0:1', 4, 1_000_000, ['other']);
  expect(await redis.hget(keys.task(id), 'state')).toBe('QUEUED');
}

async function claimedOnceMended(keys: Keys, id: string, fn: string, damaged: string, mend: () => Promise<unknown>): Promise<void> {
  const c = await claimAs(redis, keys, 'w1:1', 4, 1_000_000, [fn]).catch((e: Error) => e);
  const told = !(c instanceof Error) && c.claimed.some((t) => t.id === id);
  const state = await redis.hget(keys.task(id), 'state');
  const inQueue = (await redis.zcard(fnGroupKey(keys, fn, 'g'))) > 0;
  expect(told || (state === 'QUEUED' && inQueue), `${damaged} damaged: ${id} ${state}, told ${told}, in its queue ${inQueue}`).toBe(true);
  await mend();
  const again = await claimAs(redis, keys, 'w1:1', 4, 1_000_000, [fn]);
  expect(told || again.claimed.some((t) => t.id === id), `${damaged} mended: ${id} is claimed`).toBe(true);
}

describe('a claim refused by a swarm key after it took a queued task', () => {
  it('the lease index damaged: the task stays queued', async () => {
    const keys = keysFor(server.options().keyPrefix);
    await queued(keys, 'l-1', 'fl');
    await redis.set(keys.leases, 'not a sorted set');
    await claimedOnceMended(keys, 'l-1', 'fl', 'leases', () => redis.del(keys.leases));
  });

  it('the tasks set damaged: the task stays queued', async () => {
    const keys = keysFor(server.options().keyPrefix);
    await queued(keys, 't-1', 'ft');
    await redis.set(keys.taskSet, 'not a set');
    await claimedOnceMended(keys, 't-1', 'ft', 'tasks', () => redis.del(keys.taskSet));
  });

  it('the counts hash damaged: the task stays queued', async () => {
    const keys = keysFor(server.options().keyPrefix);
    await queued(keys, 'n-1', 'fn');
    const counts = `${keys.newQueue}:counts`;
    const before = await redis.hgetall(counts);
    await redis.del(counts);
    await redis.set(counts, 'not a hash');
    await claimedOnceMended(keys, 'n-1', 'fn', 'counts', async () => {
      await redis.del(counts);
      await redis.hset(counts, before);
    });
  });

  it('the running counts damaged under a rate-only limit: the task is not RUNNING untold', async () => {
    const keys = keysFor(server.options().keyPrefix);
    await queued(keys, 'r-1', 'fr');
    await redis.hset(`${keys.newQueue}:limits`, 'f:fr', JSON.stringify({ rate: { max: 100, per: 1000 } }));
    await redis.set(`${keys.newQueue}:running`, 'not a hash');
    await claimedOnceMended(keys, 'r-1', 'fr', 'running', () => redis.del(`${keys.newQueue}:running`));
  });
});
