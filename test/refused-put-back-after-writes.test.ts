/**
 * A put-back Redis refuses after its writes (the wake marker into a damaged `new-task`, or a
 * release of the task's limits: written after its place and its hash) is a put-back done: the
 * task is QUEUED in its function's queue. The sweep must say so (requeued, its death counted),
 * not report it refused and put it back in the lease index as if it stayed RUNNING.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { ageTask, claimAs, keysFor } from './properties/harness.js';
import { submit } from '../src/effects/queue.js';
import { requeueStale } from '../src/effects/sweep.js';

let server: RedisServer;
let redis: Redis;
redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe('a put-back refused after its writes', () => {
  it("is said requeued (its death counted), not refused and left in the lease index while it is QUEUED", async () => {
    const keys = keysFor(server.options().keyPrefix);
    const raw = JSON.stringify({ id: 'p1', function: 'fp', group: 'g', data: 1 });
    expect(await submit(redis, keys, 'p1', raw, { fn: 'fp', group: 'g', priority: 0, manualEnd: false })).toBe(true);
    const c = await claimAs(redis, keys, 'w1:1', 1, 1_000_000, ['fp']);
    expect(c.claimed.map((t) => t.id)).toEqual(['p1']);
    await ageTask(redis, keys, 'p1', 20_000);
    // (the ingress, where a put-back's wake marker goes, damaged by hand)
    await redis.del(keys.newQueue);
    await redis.set(keys.newQueue, 'not a list');
    const r = await requeueStale(redis, keys, 10_000, 100, 5, 'm1');
    const state = await redis.hget(keys.task('p1'), 'state');
    const inLeases = await redis.zscore(keys.leases, 'p1');
    // what the sweep says and what Redis holds agree: refused means RUNNING, in the lease index
    if (r.refused.length) {
      expect(state).toBe('RUNNING');
      expect(inLeases).not.toBeNull();
    } else {
      expect(r.requeued).toEqual(['p1']);
      expect(state).toBe('QUEUED');
      expect(inLeases).toBeNull();
      expect(await redis.hget(keys.task('p1'), 'deaths')).toBe('1');
    }
  });
});
