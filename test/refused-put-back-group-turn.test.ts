/**
 * A task put back (a monitor's requeue of a dead worker's task, a worker's hand-back) releases
 * its limits, and when its group waits for that release (held back by its concurrency, out of
 * its functions' turns) gives the group its turn back in each function it waits in. With the
 * turns of one of those functions damaged by hand (WRONGTYPE), other than the task's own, the
 * put-back was done and the release refused halfway: the group taken out of that function's
 * `blocked` and never given its turn there, its tasks of that function never run, the key
 * mended or not. The put-back now reads those keys first: refused, the task stays RUNNING in the
 * lease index, requeued at a later sweep once the key is mended, and the group runs on in every
 * function. (The task's own function's turns were read first already, by its enqueue.)
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { ageTask, claimAs, keysFor } from './properties/harness.js';
import { submit } from '../src/effects/queue.js';
import { requeueStale } from '../src/effects/sweep.js';
import { setLimit } from '../src/effects/limits.js';
import { finishTasks } from '../src/effects/end-batch.js';

let server: RedisServer;
let redis: Redis;
redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe("a put-back refused at its group's turns", () => {
  it('leaves the task RUNNING and the group held back where a release finds it; once mended, the requeue gives the group its turn', async () => {
    const keys = keysFor(server.options().keyPrefix);
    await setLimit(redis, keys, { group: 'g' }, { concurrency: 1 });
    for (const id of ['p1', 'p2']) {
      const raw = JSON.stringify({ id, function: 'fp', group: 'g', data: 1 });
      expect(await submit(redis, keys, id, raw, { fn: 'fp', group: 'g', priority: 0, manualEnd: false })).toBe(true);
    }
    // p1 claimed by a worker that dies; p2's group then waits for p1's release
    expect((await claimAs(redis, keys, 'w1:1', 4, 1_000_000, ['fp'])).claimed.map((t) => t.id)).toEqual(['p1']);
    expect((await claimAs(redis, keys, 'w2:1', 4, 1_000_000, ['fp'])).claimed).toEqual([]);
    expect(await redis.zrange(keys.functionQueue('fp', 'blocked'), 0, -1)).toEqual(['g']);
    await ageTask(redis, keys, 'p1', 20_000);
    const turns = keys.functionQueue('fp', 'groups');
    await redis.del(turns);
    await redis.set(turns, 'not a zset');

    const refused = await requeueStale(redis, keys, 10_000, 100, 5, 'm1');
    expect(refused.requeued).toEqual([]);
    expect(refused.refused).toEqual(['p1: WRONGTYPE Operation against a key holding the wrong kind of value']);
    expect(await redis.hget(keys.task('p1'), 'state')).toBe('RUNNING');
    expect(await redis.zscore(keys.leases, 'p1')).not.toBeNull();
    expect(await redis.zrange(keys.functionQueue('fp', 'blocked'), 0, -1)).toEqual(['g']);

    await redis.del(turns);
    // (a refused put-back is tried again a taskTimeout on)
    await ageTask(redis, keys, 'p1', 20_000);
    const mended = await requeueStale(redis, keys, 10_000, 100, 5, 'm1');
    expect(mended.requeued).toEqual(['p1']);
    const next = await claimAs(redis, keys, 'w3:1', 4, 1_000_000, ['fp']);
    expect(next.claimed.map((t) => t.id)).toEqual(['p1']);
  });

  it('of a group held back in two functions, the other one damaged: refused before its writes, and once mended both functions give the group its turn', async () => {
    const keys = keysFor(server.options().keyPrefix);
    await setLimit(redis, keys, { group: 'g' }, { concurrency: 1 });
    for (const [id, fn] of [['p1', 'fp'], ['p2', 'fp'], ['q1', 'fq']] as const) {
      const raw = JSON.stringify({ id, function: fn, group: 'g', data: 1 });
      expect(await submit(redis, keys, id, raw, { fn, group: 'g', priority: 0, manualEnd: false })).toBe(true);
    }
    expect((await claimAs(redis, keys, 'w1:1', 4, 1_000_000, ['fp'])).claimed.map((t) => t.id)).toEqual(['p1']);
    // (the group's limit spans functions: held back in fp and in fq)
    expect((await claimAs(redis, keys, 'w2:1', 4, 1_000_000, ['fp', 'fq'])).claimed).toEqual([]);
    expect(await redis.zrange(keys.functionQueue('fq', 'blocked'), 0, -1)).toEqual(['g']);
    await ageTask(redis, keys, 'p1', 20_000);
    const turns = keys.functionQueue('fq', 'groups');
    await redis.del(turns);
    await redis.set(turns, 'not a zset');

    const refused = await requeueStale(redis, keys, 10_000, 100, 5, 'm1');
    expect(refused.requeued).toEqual([]);
    expect(await redis.hget(keys.task('p1'), 'state')).toBe('RUNNING');

    await redis.del(turns);
    await ageTask(redis, keys, 'p1', 20_000);
    expect((await requeueStale(redis, keys, 10_000, 100, 5, 'm1')).requeued).toEqual(['p1']);
    // one at a time, the group's three tasks all run: none is left out of a function's turns
    const ran: string[] = [];
    for (let i = 0; i < 3; i++) {
      const [t] = (await claimAs(redis, keys, 'w3:1', 4, 1_000_000, ['fp', 'fq'])).claimed;
      expect(t, `claim ${i + 1} (ran so far: ${ran.join(', ')})`).toBeDefined();
      ran.push(t!.id);
      expect(await finishTasks(redis, keys, [{ id: t!.id, lease: t!.lease, outcome: 'succeeded', payloadJson: 'null' }])).toEqual([true]);
    }
    expect(ran.sort()).toEqual(['p1', 'p2', 'q1']);
  });
});
