/**
 * A monitor's requeue of a dead worker's task does not always put it back: a task cancelled
 * while it ran ends cancelled there, one out of attempts is parked. Either releases the task's
 * limits, giving its group its turn back in each function it waits in (lib/limits.lua unblock),
 * and a cancelled keyed task frees its dedupe key. One of those keys damaged by hand
 * (WRONGTYPE) refused the sweep after it had taken the task out of the lease index: the task
 * left RUNNING where no sweep looks again, its group's running count never released (its
 * concurrency held for good, the group out of its turns), the key mended or not.
 *
 * Now those keys are read first, as a put-back's are: refused, the task stays RUNNING in the
 * lease index, reported refused, and once the key is mended a later sweep ends or parks it and
 * the group runs on.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { ageTask, claimAs, keysFor } from './properties/harness.js';
import { cancelTask, submit, submitTasks } from '../src/effects/queue.js';
import { requeueStale } from '../src/effects/sweep.js';
import { setLimit } from '../src/effects/limits.js';
import type { Keys } from '../src/keys.js';

let server: RedisServer;
let redis: Redis;
redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';

/** p1 (group g, limit 1) claimed by a worker that dies; p2 then waits, its group held back; fp's turns damaged */
async function setUp(keys: Keys, cancel: boolean): Promise<void> {
  await setLimit(redis, keys, { group: 'g' }, { concurrency: 1 });
  for (const id of ['p1', 'p2']) {
    const raw = JSON.stringify({ id, function: 'fp', group: 'g', data: 1 });
    expect(await submit(redis, keys, id, raw, { fn: 'fp', group: 'g', priority: 0, manualEnd: false })).toBe(true);
    if (id === 'p1') expect((await claimAs(redis, keys, 'w1:1', 4, 1_000_000, ['fp'])).claimed.map((t) => t.id)).toEqual(['p1']);
  }
  expect((await claimAs(redis, keys, 'w2:1', 4, 1_000_000, ['fp'])).claimed).toEqual([]);
  expect(await redis.zrange(keys.functionQueue('fp', 'blocked'), 0, -1)).toEqual(['g']);
  if (cancel) expect(await cancelTask(redis, keys, 'p1')).toBe('running');
  await ageTask(redis, keys, 'p1', 20_000);
  await redis.del(keys.functionQueue('fp', 'groups'));
  await redis.set(keys.functionQueue('fp', 'groups'), 'not a zset');
}

async function stillRunningAndHeld(keys: Keys): Promise<void> {
  expect(await redis.hget(keys.task('p1'), 'state')).toBe('RUNNING');
  expect(await redis.zscore(keys.leases, 'p1')).not.toBeNull();
  expect(await redis.hget(keys.running, 'g:g')).toBe('1');
  expect(await redis.zrange(keys.functionQueue('fp', 'blocked'), 0, -1)).toEqual(['g']);
}

/** once mended, and p1 looked at again a taskTimeout on: the group's next task runs */
async function mend(keys: Keys): Promise<void> {
  await redis.del(keys.functionQueue('fp', 'groups'));
  await ageTask(redis, keys, 'p1', 20_000);
}

describe('a requeue that ends or parks a task, refused at its group\'s turns', () => {
  it('of a task cancelled while it ran: left RUNNING in the lease index, ended cancelled once mended, the group running on', async () => {
    const keys = keysFor(server.options().keyPrefix);
    await setUp(keys, true);
    const refused = await requeueStale(redis, keys, 10_000, 100, 5, 'm1');
    expect({ cancelled: refused.cancelled, refused: refused.refused }).toEqual({ cancelled: [], refused: [`p1: ${WRONGTYPE}`] });
    await stillRunningAndHeld(keys);

    await mend(keys);
    expect((await requeueStale(redis, keys, 10_000, 100, 5, 'm1')).cancelled).toEqual(['p1']);
    expect(await redis.hmget(keys.task('p1'), 'state', 'outcome')).toEqual(['END', 'cancelled']);
    expect((await claimAs(redis, keys, 'w3:1', 4, 1_000_000, ['fp'])).claimed.map((t) => t.id)).toEqual(['p2']);
  });

  it('of a task out of attempts: left RUNNING in the lease index, parked once mended, the group running on', async () => {
    const keys = keysFor(server.options().keyPrefix);
    await setUp(keys, false);
    // (maxAttempts 1: its first death parks it)
    const refused = await requeueStale(redis, keys, 10_000, 100, 1, 'm1');
    expect({ parked: refused.parked, refused: refused.refused }).toEqual({ parked: [], refused: [`p1: ${WRONGTYPE}`] });
    await stillRunningAndHeld(keys);

    await mend(keys);
    expect((await requeueStale(redis, keys, 10_000, 100, 1, 'm1')).parked).toEqual(['p1']);
    expect((await claimAs(redis, keys, 'w3:1', 4, 1_000_000, ['fp'])).claimed.map((t) => t.id)).toEqual(['p2']);
  });

  it('of a keyed task cancelled while it ran, its dedupe hash damaged: left RUNNING, ended cancelled and its key freed once mended', async () => {
    const keys = keysFor(server.options().keyPrefix);
    const raw = JSON.stringify({ id: 'k-1', function: 'f', data: 1 });
    expect(await submitTasks(redis, keys, [{ id: 'k-1', raw, fn: 'f', group: '', priority: 0, manualEnd: false, key: 'the-key' }])).toEqual([{ queued: true }]);
    expect((await claimAs(redis, keys, 'w1:1', 1, 1_000_000, ['f'])).claimed.map((t) => t.id)).toEqual(['k-1']);
    expect(await cancelTask(redis, keys, 'k-1')).toBe('running');
    await ageTask(redis, keys, 'k-1', 20_000);
    await redis.rename(keys.dedupe, `${keys.dedupe}:kept`);
    await redis.set(keys.dedupe, 'not a hash');

    const refused = await requeueStale(redis, keys, 10_000, 100, 5, 'm1');
    expect({ cancelled: refused.cancelled, refused: refused.refused }).toEqual({ cancelled: [], refused: [`k-1: ${WRONGTYPE}`] });
    expect(await redis.hget(keys.task('k-1'), 'state')).toBe('RUNNING');
    expect(await redis.zscore(keys.leases, 'k-1')).not.toBeNull();

    await redis.del(keys.dedupe);
    await redis.rename(`${keys.dedupe}:kept`, keys.dedupe);
    await ageTask(redis, keys, 'k-1', 20_000);
    expect((await requeueStale(redis, keys, 10_000, 100, 5, 'm1')).cancelled).toEqual(['k-1']);
    expect(await redis.hget(keys.dedupe, 'the-key')).toBeNull();
  });
});
