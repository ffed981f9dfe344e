/**
 * A worker parks the claimed tasks it cannot start (park-claimed.lua), each alone. Parking
 * releases a task's limits first, its group given its turn back in each function it waits in;
 * with one of those functions' turns damaged by hand (WRONGTYPE) Redis refused the release after
 * it had lowered the running counts: the call failed, the task still RUNNING under its lease and
 * counted as not running. The monitor's requeue, once the key was mended, released it again: the
 * group's running count one short for good, its limit letting one task too many run. The tasks
 * after it in the call were not parked.
 *
 * Now the group's turns are read first: such a task is refused alone, left RUNNING and counted,
 * for the monitor to requeue once the key is mended; the others of the call are parked.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { ageTask, claimAs, keysFor } from './properties/harness.js';
import { parkClaimed, submit } from '../src/effects/queue.js';
import { requeueStale } from '../src/effects/sweep.js';
import { setLimit } from '../src/effects/limits.js';

let server: RedisServer;
let redis: Redis;
redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe('a claimed task parked, refused at its group\'s turns', () => {
  it('is left RUNNING and counted, the others of the call parked; once mended, requeued and released once', async () => {
    const keys = keysFor(server.options().keyPrefix);
    await setLimit(redis, keys, { group: 'g' }, { concurrency: 2 });
    for (const [id, fn, group] of [['p1', 'fp', 'g'], ['x1', 'fp', ''], ['p2', 'fp', 'g'], ['q1', 'fq', 'g']] as const) {
      const raw = JSON.stringify({ id, function: fn, ...(group ? { group } : {}), data: 1 });
      expect(await submit(redis, keys, id, raw, { fn, group, priority: 0, manualEnd: false })).toBe(true);
    }
    const claimed = (await claimAs(redis, keys, 'w1:1', 3, 1_000_000, ['fp'])).claimed;
    expect(claimed.map((t) => t.id).sort()).toEqual(['p1', 'p2', 'x1']);
    // (g at its limit: held back in fq)
    expect((await claimAs(redis, keys, 'w2:1', 4, 1_000_000, ['fq'])).claimed).toEqual([]);
    expect(await redis.zrange(keys.functionQueue('fq', 'blocked'), 0, -1)).toEqual(['g']);
    expect(await redis.hget(keys.running, 'g:g')).toBe('2');
    await redis.set(keys.functionQueue('fq', 'groups'), 'not a zset');

    const lease = (id: string) => claimed.find((t) => t.id === id)!.lease;
    const parked = await parkClaimed(redis, keys, 'w1:1', [
      { id: 'p1', lease: lease('p1'), reason: 'unrunnable', message: 'p1 cannot start' },
      { id: 'x1', lease: lease('x1'), reason: 'unrunnable', message: 'x1 cannot start' },
    ]);
    expect(parked).toEqual(['x1']);
    expect(await redis.hget(keys.task('p1'), 'state')).toBe('RUNNING');
    expect(await redis.hget(keys.running, 'g:g')).toBe('2');

    // mended; p1's worker never starts it: a monitor requeues it, its release counted once
    await redis.del(keys.functionQueue('fq', 'groups'));
    await ageTask(redis, keys, 'p1', 20_000);
    expect((await requeueStale(redis, keys, 10_000, 100, 5, 'm1')).requeued).toEqual(['p1']);
    expect(await redis.hget(keys.running, 'g:g')).toBe('1');
  });
});
