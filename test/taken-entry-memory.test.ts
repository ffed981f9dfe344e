/**
 * A Client entry the seed's steady case takes (lib/client-entry.lua's take) must not stay in
 * Redis's Lua heap (used_memory_vm_functions) once its claim is done. A version that judged every
 * entry into one table kept across calls held the last one until another entry came that way:
 * a large task's data stayed for good when none came (the swarm's later tasks grouped, its
 * workers gone, its keys flushed), up to a worker's maxPayloadBytes.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { claimAs, keysFor } from './properties/harness.js';
import { finishTasks } from '../src/effects/end-batch.js';

let server: RedisServer;
let redis: Redis;
redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const BIG = 8 << 20;

async function luaHeap(): Promise<number> {
  return Number(/used_memory_vm_functions:(\d+)/.exec(await redis.info('memory'))![1]);
}

describe("a large entry taken by the steady case", () => {
  it("is let go once its claim is done: Lua's heap comes back down as later claims run", async () => {
    const keys = keysFor(server.options().keyPrefix);
    // (the library loaded, and its heap at rest, before the large entry)
    await claimAs(redis, keys, 'w1:1', 1, 2 * BIG, ['big']);
    const before = await luaHeap();
    await redis.sadd(keys.queued, 'big-1');
    await redis.lpush(keys.newQueue, JSON.stringify({ id: 'big-1', function: 'big', data: 'x'.repeat(BIG) }));
    const c = await claimAs(redis, keys, 'w1:1', 1, 2 * BIG, ['big']);
    expect(c.claimed.map((t) => t.id)).toEqual(['big-1']);
    await finishTasks(redis, keys, [{ id: 'big-1', lease: c.claimed[0]!.lease, outcome: 'succeeded', payloadJson: 'null' }]);
    await redis.del(keys.task('big-1'));
    // later tasks of the swarm are grouped (decoded, never taken into that table): their claims
    // allocate, and Lua's collector runs
    let heap = await luaHeap();
    for (let i = 0; i < 3000 && heap > before + BIG / 2; i++) {
      await redis.lpush(keys.newQueue, JSON.stringify({ id: `g-${i}`, function: 'big', data: 'y'.repeat(1000), group: 'A' }));
      const g = await claimAs(redis, keys, 'w1:1', 1, 2 * BIG, ['big']);
      if (g.claimed[0]) await finishTasks(redis, keys, [{ id: g.claimed[0].id, lease: g.claimed[0].lease, outcome: 'succeeded', payloadJson: 'null' }]);
      if (i % 50 === 49) heap = await luaHeap();
    }
    expect(heap, `Lua's heap ${heap} bytes, ${before} before the large entry`).toBeLessThan(before + BIG / 2);
  }, 60_000);
});
