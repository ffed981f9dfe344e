/**
 * A worker of two functions, one of whose queues is damaged by hand (WRONGTYPE): the claim that
 * takes a healthy function's entry at once (routing) must not then fail in its claiming step at
 * the damaged function, its reply lost: the task taken is RUNNING for a worker never told of it,
 * requeued a taskTimeout on as a death, again and again (parked max_attempts in the end).
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { claimAs, fnGroupsKey, keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe("a claim beside a damaged function's queue", () => {
  it('tells its worker of the healthy task it took', async () => {
    const keys = keysFor(server.options().keyPrefix);
    await redis.set(fnGroupsKey(keys, 'fx'), 'not a sorted set');
    await redis.lpush(keys.newQueue, JSON.stringify({ id: 'a-1', function: 'fa', data: 1 }));
    const c = await claimAs(redis, keys, 'w1:1', 4, 1_000_000, ['fa', 'fx']).catch((e: Error) => e);
    const state = await redis.hget(keys.task('a-1'), 'state');
    const told = !(c instanceof Error) && c.claimed.some((t) => t.id === 'a-1');
    expect(state !== 'RUNNING' || told, `a-1 ${state}, claim ${c instanceof Error ? 'failed: ' + c.message : 'answered'}`).toBe(true);
  });
});
