/**
 * The seed's steady case (claim.lua: calm, nothing queued, one plain entry on the ingress) pops
 * an entry and claims it at once, outside routeSafely's pcall. A swarm key damaged by hand
 * (WRONGTYPE) that the claim writes after the pop (the lease index, `tasks`, `counts`) refuses
 * the whole claim after the pop: the entry must not be lost (it stays on the ingress, or is
 * parked, or is claimed and told), and runs once the key is mended.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { claimAs, keysFor } from './properties/harness.js';
import type { Keys } from '../src/keys.js';

let server: RedisServer;
let redis: Redis;
redisPerFile((s, r) => {
  server = s;
  redis = r;
});

async function notLost(keys: Keys, id: string, damaged: string, key: string, mend: () => Promise<unknown>): Promise<void> {
  await redis.lpush(keys.newQueue, JSON.stringify({ id, function: 'fl', data: 1 }));
  const c = await claimAs(redis, keys, 'w1:1', 4, 1_000_000, ['fl']).catch((e: Error) => e);
  const told = !(c instanceof Error) && c.claimed.some((t) => t.id === id);
  const onIngress = (await redis.lrange(keys.newQueue, 0, -1)).some((e) => e.includes(`"${id}"`));
  const parked = Object.values(await redis.hgetall(keys.deadStore[0]!)).some((e) => e.includes(`"${id}"`));
  expect(told || onIngress || parked, `${damaged} damaged: ${id} told ${told}, on the ingress ${onIngress}, parked ${parked}; claim ${c instanceof Error ? c.message : 'answered'}`).toBe(true);
  void key;
  await mend();
}

describe("the steady case's claim refused after its pop", () => {
  it('the lease index damaged: the entry is not lost', async () => {
    const keys = keysFor(server.options().keyPrefix);
    await redis.set(keys.leases, 'not a sorted set');
    await notLost(keys, 'l-1', 'leases', keys.leases, () => redis.del(keys.leases));
  });

  it('the tasks set damaged: the entry is not lost', async () => {
    const keys = keysFor(server.options().keyPrefix);
    await redis.set(keys.taskSet, 'not a set');
    await notLost(keys, 't-1', 'tasks', keys.taskSet, () => redis.del(keys.taskSet));
  });

  it('the counts hash damaged: the entry is not lost', async () => {
    const keys = keysFor(server.options().keyPrefix);
    const counts = `${keys.newQueue}:counts`;
    await redis.set(counts, 'not a hash');
    await notLost(keys, 'n-1', 'counts', counts, () => redis.del(counts));
  });
});
