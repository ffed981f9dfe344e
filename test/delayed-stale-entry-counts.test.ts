/**
 * `new-task:counts` `d:<fn>` counts the tasks of fn that are DELAYED, whatever version of the
 * client cancelled them during a rolling upgrade. A client of the version before cancels a task
 * delayed by this version by its id alone (`new-task:delayed`): the entry under its place's
 * member in `new-task:delayed:placed`, and its count, are left. The monitor's cleanup of that
 * ended task (reap.lua: with a retention of 0, the hash is deleted at once) must not make the
 * count stay up for good once the entry is gone, nor must the id submitted again.
 *
 * The version before is this library without `new-task:delayed:placed` (its name is one no key
 * has), as in delayed-mixed-versions.test.ts.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { reapEnded } from '../src/effects/sweep.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { cancelBefore } from './helpers/version-before.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe('d:<fn> after a cancel by a client of the version before, its ended task cleaned up', () => {
  it('the hash deleted by the cleanup before the task fell due: once the entry is gone, d:<fn> is back to none', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('echo', null, { delay: 400 });
    expect(await cancelBefore(redis, keys, id)).toBe('cancelled');
    // the monitor's cleanup, retention 0: the ended hash is deleted
    await reapEnded(redis, keys, 0, 100);
    expect(await redis.exists(keys.task(id))).toBe(0);
    await new Promise((r) => setTimeout(r, 600));
    const w = new Worker({ port: 0, redis: o, logger: quiet, concurrency: 1 });
    w.addTaskFunction('echo', () => {});
    cleanup.push(() => w.stop());
    await w.start();
    await until(async () => (await redis.zcard(keys.placedDelayed)) === 0, 'the entry read', 5000);
    expect(await redis.hget(keys.counts, 'd:echo'), 'd:echo').toBeNull();
    expect((await c.stats()).functions.echo?.delayed ?? 0).toBe(0);
  }, 20_000);

  it('the id submitted again (delayed) after the cleanup: both entries read, the task runs once, d:<fn> back to none', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('echo', null, { id: 'again', delay: 300 });
    expect(await cancelBefore(redis, keys, id)).toBe('cancelled');
    await reapEnded(redis, keys, 0, 100);
    await c.submit('echo', null, { id: 'again', delay: 600 });
    const ran: string[] = [];
    const w = new Worker({ port: 0, redis: o, logger: quiet, concurrency: 1 });
    w.addTaskFunction('echo', (t) => void ran.push(t.id));
    cleanup.push(() => w.stop());
    await w.start();
    expect(await c.wait('again', { timeout: 5000 })).toMatchObject({ outcome: 'succeeded' });
    await until(async () => (await redis.zcard(keys.placedDelayed)) === 0, 'both entries read', 5000);
    expect(ran).toEqual(['again']);
    expect(await redis.hget(keys.counts, 'd:echo'), 'd:echo').toBeNull();
  }, 20_000);
});
