/**
 * A claim's receipt (claim.lua, under the claim's token): a claim that reaches Redis again with
 * the same token (its reply was lost, ioredis sent it again after a reconnect) answers what it
 * took the first time, as the first answer would have read, and takes nothing more; once the
 * worker has given the token up (claim-recover.lua), what the claim took goes back to the queue
 * and the token takes nothing, however late it arrives.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client } from '../src/index.js';
import { recoverClaims } from '../src/effects/queue.js';
import { claimAs, keysFor } from './properties/harness.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const W = '127.0.0.1:7';

async function queued(n: number) {
  const o = server.options();
  const keys = keysFor(o.keyPrefix);
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await c.submit('f', { i }));
  return { keys, ids };
}

describe("a claim's receipt", () => {
  it('answers a claim sent again with its token exactly as the first answer, and takes nothing more', async () => {
    const { keys, ids } = await queued(5);
    const first = await claimAs(redis, keys, W, 3, 1 << 20, ['f'], 'tok.1');
    expect(first.claimed.map((t) => t.id)).toEqual(ids.slice(0, 3));
    expect(first.receipt).toBe(true);
    const again = await claimAs(redis, keys, W, 3, 1 << 20, ['f'], 'tok.1');
    expect(again.claimed).toEqual(first.claimed);
    expect(again.now).toBe(first.now);
    // (the receipt keeps each task's attempt as the claim wrote it: the first)
    expect(again.claimed.map((t) => t.attempt)).toEqual([1, 1, 1]);
    // the other two are still queued: a new token takes them
    const next = await claimAs(redis, keys, W, 3, 1 << 20, ['f'], 'tok.2');
    expect(next.claimed.map((t) => t.id)).toEqual(ids.slice(3));
  });

  it('hands back what a given-up claim took, and a late arrival of its token takes nothing', async () => {
    const { keys, ids } = await queued(4);
    const lost = await claimAs(redis, keys, W, 2, 1 << 20, ['f'], 'tok.1');
    expect(lost.claimed.map((t) => t.id)).toEqual(ids.slice(0, 2));
    expect((await recoverClaims(redis, keys, W, ['tok.1'])).sort()).toEqual(ids.slice(0, 2).sort());
    for (const id of ids.slice(0, 2)) expect(await redis.hget(keys.task(id), 'state')).toBe('QUEUED');
    const late = await claimAs(redis, keys, W, 4, 1 << 20, ['f'], 'tok.1');
    expect(late.claimed).toEqual([]);
    // handed back to their places: taken again first, each a new attempt of the same count
    const again = await claimAs(redis, keys, W, 4, 1 << 20, ['f'], 'tok.2');
    expect(again.claimed.map((t) => t.id)).toEqual(ids);
    expect(again.claimed.map((t) => t.attempt)).toEqual([1, 1, 1, 1]);
  });

  it("answers a claim sent again in the first answer's order when a task's data was removed by hand since: that one with none, the others whole", async () => {
    const { keys, ids } = await queued(3);
    const first = await claimAs(redis, keys, W, 3, 1 << 20, ['f'], 'tok.1');
    await redis.hdel(keys.task(ids[0]!), 'data');
    const again = await claimAs(redis, keys, W, 3, 1 << 20, ['f'], 'tok.1');
    expect(again.claimed.map((t) => t.id)).toEqual(ids);
    expect(again.claimed.map((t) => t.raw)).toEqual(['', first.claimed[1]!.raw, first.claimed[2]!.raw]);
    expect(again.claimed.map((t) => t.lease)).toEqual(first.claimed.map((t) => t.lease));
  });
});
