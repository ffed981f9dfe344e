/**
 * An entry a claim takes at once (the fast path, routing a window that holds a group) whose
 * claim Redis refuses part-way (the swarm's `tasks` set damaged by hand: WRONGTYPE) must not be
 * both parked as "could not be queued" and left RUNNING under a lease no worker holds, out of
 * the lease index (no monitor ever looks at it again): the claim's refused write comes before
 * anything of the task is written, as routing's does.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { claimAs, keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe('a claim refused after its writes', () => {
  it('leaves no task RUNNING out of the lease index and dead-lettered at once', async () => {
    const keys = keysFor(server.options().keyPrefix);
    // (two entries with a group: the whole window is routed, each taken at once)
    for (const id of ['c-1', 'c-2']) await redis.lpush(keys.newQueue, JSON.stringify({ id, function: 'fc', group: 'g', data: 1 }));
    await redis.set(keys.taskSet, 'not a set');
    const c = await claimAs(redis, keys, 'w1:1', 4, 1_000_000, ['fc']).catch((e: Error) => e);
    for (const id of ['c-1', 'c-2']) {
      const state = await redis.hget(keys.task(id), 'state');
      if (state === 'RUNNING') {
        // RUNNING: its worker was told, or a monitor finds it in the lease index
        const told = !(c instanceof Error) && c.claimed.some((t) => t.id === id);
        expect(told || (await redis.zscore(keys.leases, id)) !== null, `${id} RUNNING, untold and out of the lease index`).toBe(true);
      }
    }
    // and what is parked is not RUNNING too
    const entries = Object.values(await redis.hgetall(keys.deadStore[0]!)).map((e) => JSON.parse(e) as { id?: string });
    for (const e of entries) if (e.id) expect(await redis.hget(keys.task(e.id), 'state'), `${e.id} parked`).not.toBe('RUNNING');
  });
});
