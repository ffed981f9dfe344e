/**
 * A hand-back (a worker stopping, or recovering the tasks of claims whose replies it lost) puts
 * back every task it names in one call. One of them may be refused: a grouped task whose
 * release would give its group its turn back in a function whose turns are damaged by hand
 * (WRONGTYPE) is refused before its first write (lib/put-back.lua). That refusal is the task's
 * alone: it stays RUNNING under its lease, in the lease index, for a monitor to requeue once the
 * key is mended, and the other tasks of the call are handed back.
 *
 * Raised, it failed the whole call, again at every try until the key was mended: the tasks
 * after it were left to the monitor (requeued as dead, a death counted against maxAttempts),
 * and a claim recovery never went through; a worker recovers its lost claims before it goes
 * back to work after Redis was away (its reconcile), so it stayed out of work for as long.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { ageTask, claimAs, keysFor } from './properties/harness.js';
import { recoverClaims, submit } from '../src/effects/queue.js';
import { handBack } from '../src/effects/leases.js';
import { requeueStale } from '../src/effects/sweep.js';
import { setLimit } from '../src/effects/limits.js';
import type { Keys } from '../src/keys.js';

let server: RedisServer;
let redis: Redis;
redisPerFile((s, r) => {
  server = s;
  redis = r;
});

async function put(keys: Keys, id: string, fn: string, group?: string): Promise<void> {
  const raw = JSON.stringify({ id, function: fn, ...(group ? { group } : {}), data: 1 });
  expect(await submit(redis, keys, id, raw, { fn, group: group ?? '', priority: 0, manualEnd: false })).toBe(true);
}

/**
 * w1:1 claims p1 (group g, limit 1) under token t1, then x1 (no group) under t2; g is then held
 * back in fp and in fq, and fq's turns are damaged by hand. Returns the two leases.
 */
async function setUp(keys: Keys): Promise<{ p1: string; x1: string }> {
  await setLimit(redis, keys, { group: 'g' }, { concurrency: 1 });
  await put(keys, 'p1', 'fp', 'g');
  const [p1] = (await claimAs(redis, keys, 'w1:1', 4, 1_000_000, ['fp'], 't1')).claimed;
  expect(p1?.id).toBe('p1');
  await put(keys, 'p2', 'fp', 'g');
  await put(keys, 'q1', 'fq', 'g');
  expect((await claimAs(redis, keys, 'w2:1', 4, 1_000_000, ['fp', 'fq'])).claimed).toEqual([]);
  expect(await redis.zrange(keys.functionQueue('fq', 'blocked'), 0, -1)).toEqual(['g']);
  await put(keys, 'x1', 'fp');
  const [x1] = (await claimAs(redis, keys, 'w1:1', 4, 1_000_000, ['fp'], 't2')).claimed;
  expect(x1?.id).toBe('x1');
  await redis.set(keys.functionQueue('fq', 'groups'), 'not a zset');
  return { p1: p1!.lease, x1: x1!.lease };
}

async function refusedTaskStaysRunning(keys: Keys, lease: string): Promise<void> {
  expect(await redis.hmget(keys.task('p1'), 'state', 'lease')).toEqual(['RUNNING', lease]);
  expect(await redis.zscore(keys.leases, 'p1')).not.toBeNull();
  expect(await redis.zrange(keys.functionQueue('fq', 'blocked'), 0, -1)).toEqual(['g']);
}

describe('a hand-back with one task refused at its group\'s turns', () => {
  it('of a worker stopping: the others of the call are handed back, the refused one stays RUNNING for a monitor', async () => {
    const keys = keysFor(server.options().keyPrefix);
    const leases = await setUp(keys);
    // (the refused task first: the one after it must not be held back)
    const back = await handBack(redis, keys, [
      { id: 'p1', lease: leases.p1 },
      { id: 'x1', lease: leases.x1 },
    ]);
    expect(back).toEqual(['x1']);
    expect(await redis.hget(keys.task('x1'), 'state')).toBe('QUEUED');
    expect(await redis.zscore(keys.leases, 'x1')).toBeNull();
    await refusedTaskStaysRunning(keys, leases.p1);
  });

  it("of a worker recovering its lost claims: goes through, the refused task left to a monitor, which requeues it once the key is mended", async () => {
    const keys = keysFor(server.options().keyPrefix);
    const leases = await setUp(keys);
    expect(await recoverClaims(redis, keys, 'w1:1', ['t1', 't2'])).toEqual(['x1']);
    expect(await redis.hget(keys.task('x1'), 'state')).toBe('QUEUED');
    await refusedTaskStaysRunning(keys, leases.p1);
    // (recovered: the claims' receipts are cancelled, a second recovery hands back nothing more)
    expect(await recoverClaims(redis, keys, 'w1:1', ['t1', 't2'])).toEqual([]);

    await redis.del(keys.functionQueue('fq', 'groups'));
    await ageTask(redis, keys, 'p1', 20_000);
    expect((await requeueStale(redis, keys, 10_000, 100, 5, 'm1')).requeued).toEqual(['p1']);
    expect(await redis.hget(keys.task('p1'), 'state')).toBe('QUEUED');
    // the group has its turn back in fq: q1 is claimed there
    expect(await redis.zrange(keys.functionQueue('fq', 'blocked'), 0, -1)).toEqual([]);
    expect((await claimAs(redis, keys, 'w3:1', 4, 1_000_000, ['fq'])).claimed.map((t) => t.id)).toEqual(['q1']);
  });
});
