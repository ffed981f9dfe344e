/**
 * (Passes: a guard.) A task with a group, under a concurrency limit of its function and of its
 * group, holding a dedupe key, queued again after a claim (handed back by its worker as it
 * stopped, or requeued by a monitor after its worker was killed) and then stopped: the stop
 * cancels it (control-stop-queued-again.test.ts) and leaves nothing of it held: no slot counted
 * running, no group turn nor entry in its function's queue, its dedupe key free. The next task
 * of its group, under the same key, is a new task and runs at once.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { expectNoneRunning } from './helpers/limits.js';
import { handedBack, requeuedTask } from './helpers/queued-again.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const opts = { group: 'g', key: 'k' };

async function limited(c: Client) {
  await c.setLimit({ function: 'sleep' }, { concurrency: 1 });
  await c.setLimit({ group: 'g' }, { concurrency: 1 });
}

/** nothing of task `id` is held: the stop left every key as if it had never been queued */
async function expectNothingHeld(o: ReturnType<RedisServer['options']>, c: Client, id: string) {
  expect(await c.get(id)).toMatchObject({ state: 'END', outcome: 'cancelled' });
  await expectNoneRunning(redis, o.keyPrefix!);
  expect(await redis.keys(`${o.keyPrefix}new-task:f:*`)).toEqual([]);
  expect(Number((await redis.hget(`${o.keyPrefix}new-task:counts`, 'q:sleep')) ?? 0)).toBe(0);
  expect(await redis.hgetall(`${o.keyPrefix}new-task:keys`)).toEqual({});
  // the next task of its group under its key: a new task, run at once
  const next = await c.submit('sleep', { ms: 10 }, opts);
  expect(next).not.toBe(id);
  const w = new Worker({ port: 0, redis: o });
  w.addTaskFunction('sleep', async () => 'ok');
  cleanup.push(() => w.stop());
  await w.start();
  expect(await c.wait(next, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded' });
  await expectNoneRunning(redis, o.keyPrefix!);
}

describe('a stop of a grouped, limited, keyed task queued again', () => {
  it('handed back by its worker as it stopped: cancelled, nothing of it held', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    await limited(c);
    const id = await handedBack(o, c, cleanup, 'sleep', opts);
    expect(await c.get(id)).toMatchObject({ state: 'QUEUED' });
    expect(await redis.keys(`${o.keyPrefix}new-task:f:*`)).not.toEqual([]);
    expect(await redis.hgetall(`${o.keyPrefix}new-task:keys`)).toEqual({ k: id });
    expect(await c.control(id, 'stop')).toBe('cancelled');
    await expectNothingHeld(o, c, id);
  }, 30_000);

  it('requeued by a monitor after its worker was killed: cancelled, nothing of it held', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    await limited(c);
    const id = await requeuedTask(o, c, cleanup, opts);
    expect(await redis.keys(`${o.keyPrefix}new-task:f:*`)).not.toEqual([]);
    expect(await redis.hgetall(`${o.keyPrefix}new-task:keys`)).toEqual({ k: id });
    expect(await c.control(id, 'stop')).toBe('cancelled');
    await expectNothingHeld(o, c, id);
  }, 30_000);
});
