/**
 * A put-back Redis refuses after its writes (a release of the task's limits: written after its
 * place and its hash) is a put-back done: the task is QUEUED in its function's queue. The sweep
 * must say so (requeued, its death counted), not report it refused and put it back in the lease
 * index as if it stayed RUNNING. A key requeue.lua is given (the ingress, where a put-back's wake
 * marker goes) damaged refuses the whole call before it writes anything: the task stays as it was.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { ageTask, claimAs, keysFor } from './properties/harness.js';
import { submit } from '../src/effects/queue.js';
import { requeueStale } from '../src/effects/sweep.js';
import { setLimit } from '../src/effects/limits.js';

let server: RedisServer;
let redis: Redis;
redisPerFile((s, r) => {
  server = s;
  redis = r;
});

/** task p1 of fp (group g), claimed by w1:1 and stale: its worker died 20 s ago */
async function staleTask(keys: ReturnType<typeof keysFor>): Promise<void> {
  const raw = JSON.stringify({ id: 'p1', function: 'fp', group: 'g', data: 1 });
  expect(await submit(redis, keys, 'p1', raw, { fn: 'fp', group: 'g', priority: 0, manualEnd: false })).toBe(true);
  const c = await claimAs(redis, keys, 'w1:1', 1, 1_000_000, ['fp']);
  expect(c.claimed.map((t) => t.id)).toEqual(['p1']);
  await ageTask(redis, keys, 'p1', 20_000);
}

describe('a put-back refused after its writes', () => {
  it('is said requeued (its death counted), not refused and left in the lease index while it is QUEUED', async () => {
    const keys = keysFor(server.options().keyPrefix);
    await setLimit(redis, keys, { function: 'fp' }, { concurrency: 5 });
    await staleTask(keys);
    // (the running counts a limit keeps, released after the task's place and hash are written, damaged by hand)
    await redis.del(keys.running);
    await redis.set(keys.running, 'not a hash');
    const r = await requeueStale(redis, keys, 10_000, 100, 5, 'm1');
    expect(r.refused).toEqual([]);
    expect(r.requeued).toEqual(['p1']);
    expect(await redis.hget(keys.task('p1'), 'state')).toBe('QUEUED');
    expect(await redis.zscore(keys.leases, 'p1')).toBeNull();
    expect(await redis.hget(keys.task('p1'), 'deaths')).toBe('1');
  });

  it('a damaged key requeue.lua is given refuses the call before anything is written', async () => {
    const keys = keysFor(server.options().keyPrefix);
    await staleTask(keys);
    await redis.del(keys.newQueue);
    await redis.set(keys.newQueue, 'not a list');
    await expect(requeueStale(redis, keys, 10_000, 100, 5, 'm1')).rejects.toThrow(/WRONGTYPE/);
    expect(await redis.hget(keys.task('p1'), 'state')).toBe('RUNNING');
    expect(await redis.zscore(keys.leases, 'p1')).not.toBeNull();
    expect(await redis.hget(keys.task('p1'), 'deaths')).toBeNull();
  });
});
