/**
 * A claim's step 2 pops a task from its function's queue and then, instead of running it, parks
 * it (queued with no entry, or over maxPayloadBytes) or ends it cancelled (a cancel marked it
 * while it ran, and it was put back since). A key those branches write damaged by hand
 * (WRONGTYPE: the dead-letter store, or the ended list reap.lua reads) refused the branch after
 * the pop: the parked task was left QUEUED in no queue (lost: mended, it never ran nor parked);
 * the cancelled one ended in its hash but not in the ended list (never cleaned up, its dedupe
 * key held, no `end` told). The refusal must leave the task where it was, and once the key is
 * mended the claim parks or ends it.
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
async function queued(keys: Keys, id: string, fn: string, data: unknown = 1): Promise<void> {
  await redis.lpush(keys.newQueue, JSON.stringify({ id, function: fn, group: 'g', data }));
  await claimAs(redis, keys, 'w0:1', 4, 1_000_000, ['other']);
  expect(await redis.hget(keys.task(id), 'state')).toBe('QUEUED');
}

/** the task is still QUEUED in its function's queue */
async function stillQueued(keys: Keys, id: string, fn: string): Promise<void> {
  expect(await redis.hget(keys.task(id), 'state'), `${id}'s state`).toBe('QUEUED');
  const members = await redis.zrange(fnGroupKey(keys, fn, 'g'), 0, -1);
  expect(members.some((m) => m.endsWith(`:${id}`)), `${id} in its queue`).toBe(true);
}

/** a dead-letter store whose every entry is indexed, and which holds `id` parked for `reason` */
async function parkedOnce(keys: Keys, id: string, reason: string): Promise<void> {
  const entries = await redis.hgetall(keys.dead.entries);
  for (const k of Object.keys(entries)) expect(await redis.zscore(keys.dead.index, k), `entry ${k} indexed`).not.toBeNull();
  const mine = Object.values(entries).map((e) => JSON.parse(e) as { id?: string; reason: string }).filter((e) => e.id === id);
  expect(mine.map((e) => e.reason)).toEqual([reason]);
  expect(await redis.hget(keys.task(id), 'parked')).toBe(reason);
}

/** damage `key` (a string where a hash, zset or list should be), keeping what it held */
async function damage(key: string): Promise<() => Promise<void>> {
  const dumped = await redis.dumpBuffer(key);
  await redis.del(key);
  await redis.set(key, 'not what it should be');
  return async () => {
    await redis.del(key);
    if (dumped) await redis.restore(key, 0, dumped);
  };
}

describe('a claim refused where it parks or ends a task it popped', () => {
  for (const which of ['stats', 'entries', 'index'] as const) {
    it(`a queued task with no entry, the dead letters' ${which} damaged: it stays queued, and is parked once mended`, async () => {
      const keys = keysFor(server.options().keyPrefix);
      const fn = `fe-${which}`;
      const id = `e-${which}`;
      await queued(keys, id, fn);
      await redis.hdel(keys.task(id), 'data');
      const mend = await damage(keys.dead[which]);
      const c = await claimAs(redis, keys, 'w1:1', 4, 1_000_000, [fn]);
      expect(c.claimed).toEqual([]);
      expect(c.parked.map((p) => p.reason)).toEqual(['refused']);
      await stillQueued(keys, id, fn);
      await mend();
      const again = await claimAs(redis, keys, 'w1:1', 4, 1_000_000, [fn]);
      expect(again.parked.map((p) => p.reason)).toEqual(['unrunnable']);
      await parkedOnce(keys, id, 'unrunnable');
    });
  }

  it("a task over maxPayloadBytes, the dead letters' index damaged: it stays queued, and is parked once mended", async () => {
    const keys = keysFor(server.options().keyPrefix);
    await queued(keys, 'big-1', 'fbig', 'x'.repeat(200));
    const mend = await damage(keys.dead.index);
    const c = await claimAs(redis, keys, 'w1:1', 4, 100, ['fbig']);
    expect(c.claimed).toEqual([]);
    expect(c.parked.map((p) => p.reason)).toEqual(['refused']);
    await stillQueued(keys, 'big-1', 'fbig');
    await mend();
    const again = await claimAs(redis, keys, 'w1:1', 4, 100, ['fbig']);
    expect(again.parked.map((p) => p.reason)).toEqual(['too_large']);
    await parkedOnce(keys, 'big-1', 'too_large');
  });

  it('a task cancelled while it ran and put back, the ended list damaged: it stays queued, and ends cancelled once mended', async () => {
    const keys = keysFor(server.options().keyPrefix);
    await redis.lpush(keys.ended, 'before');
    await queued(keys, 'cx-1', 'fcx');
    // (as cancel.lua marks a RUNNING task it stops, which a put-back then leaves queued)
    await redis.hset(keys.task('cx-1'), 'cancelling', '1');
    const mend = await damage(keys.ended);
    const c = await claimAs(redis, keys, 'w1:1', 4, 1_000_000, ['fcx']);
    expect(c.claimed).toEqual([]);
    expect(c.parked.map((p) => p.reason)).toEqual(['refused']);
    await stillQueued(keys, 'cx-1', 'fcx');
    expect(await redis.hget(keys.task('cx-1'), 'cancelling')).toBe('1');
    await mend();
    const again = await claimAs(redis, keys, 'w1:1', 4, 1_000_000, ['fcx']);
    expect(again.claimed).toEqual([]);
    expect(await redis.hget(keys.task('cx-1'), 'state')).toBe('END');
    expect(await redis.hget(keys.task('cx-1'), 'outcome')).toBe('cancelled');
    expect(await redis.lrange(keys.ended, 0, -1)).toEqual(['before', 'cx-1']);
  });
});
