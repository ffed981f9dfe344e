/**
 * Delayed tasks (issue 8): `delay` or `runAt` on Redis's clock. A delayed task is DELAYED (with
 * its due time) until then, and starts when due on an idle worker that polls far less often, with
 * no monitor running; delayed tasks start in due order; their due time survives a Redis restart
 * from its AOF; and submitting one checks its options before anything is written.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, ConfigError } from '../src/index.js';
import { spawnWorker, type WorkerProcess } from './helpers/processes.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

/** Far longer than any wait below: a task that starts in time was not found by a poll. */
const POLL = 30_000;

async function worker(o: object): Promise<WorkerProcess> {
  const w = await spawnWorker({ port: 0, redis: o, concurrency: 8, fetchTaskInterval: POLL, heartbeatInterval: 200 });
  cleanup.push(() => w.kill());
  return w;
}

function client(o: object): Client {
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return c;
}

const redisNow = async (r: Redis) => {
  const [s, us] = await r.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
};

describe('a delayed task', () => {
  it('is DELAYED until its due time, then starts on an idle worker at once (no monitor, no poll)', async () => {
    const o = server.options();
    await worker(o);
    const c = client(o);
    // (a delay long enough that the reads below come before it is due, on a loaded machine too)
    const before = await redisNow(redis);
    const id = await c.submit('echo', 'later', { delay: 2000 });
    const after = await redisNow(redis);
    const t = await c.get(id);
    expect(t).toMatchObject({ state: 'DELAYED', reason: 'delay', function: 'echo' });
    // due its delay after the moment Redis ran the submit, somewhere between the two reads
    expect(t!.runAt! - before).toBeGreaterThanOrEqual(2000);
    expect(t!.runAt! - after).toBeLessThanOrEqual(2000);
    expect((await c.stats()).functions.echo).toMatchObject({ delayed: 1, queued: 0 });
    const ended = await c.wait(id, { timeout: 10_000 });
    // counted while it waited, and the count dropped once it ran
    expect((await c.stats()).functions.echo).toMatchObject({ delayed: 0 });
    expect(await redis.hexists(keysFor(o.keyPrefix).counts, 'd:echo')).toBe(0);
    expect(ended).toMatchObject({ outcome: 'succeeded', result: 'later' });
    expect(ended.start! - t!.runAt!).toBeGreaterThanOrEqual(0);
    expect(ended.start! - t!.runAt!, 'started within a fraction of the poll after its due time').toBeLessThan(2000);
  });

  it('with runAt in the past, or a delay of 0, runs at once', async () => {
    const o = server.options();
    await worker(o);
    const c = client(o);
    const a = await c.submit('echo', 'a', { runAt: new Date(Date.now() - 60_000) });
    const b = await c.submit('echo', 'b', { delay: 0 });
    expect(await c.wait(a, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded' });
    expect(await c.wait(b, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded' });
  });

  it('tasks start in due order, whatever order they were submitted in', async () => {
    const o = server.options();
    const c = client(o);
    const now = await redisNow(redis);
    const offsets = [900, 300, 1200, 600, 150];
    const ids = await c.submitMany(offsets.map((ms, i) => ({ fn: 'echo', data: i, options: { runAt: now + ms } })));
    const w = await worker(o);
    await Promise.all(ids.map((id) => c.wait(id, { timeout: 10_000 })));
    const order = w.lines.filter((l) => l.startsWith('STARTED ')).map((l) => l.split(' ')[1]);
    const byDue = [...ids].sort((x, y) => offsets[ids.indexOf(x)]! - offsets[ids.indexOf(y)]!);
    expect(order).toEqual(byDue);
  });

  it('runs on a worker that serves its function, in a pool where another does not', async () => {
    const o = server.options();
    const sleeper = await spawnWorker({ port: 0, redis: o, concurrency: 2, fetchTaskInterval: POLL }, [], ['sleep']);
    const echoer = await spawnWorker({ port: 0, redis: o, concurrency: 2, fetchTaskInterval: POLL }, [], ['echo']);
    cleanup.push(() => sleeper.kill(), () => echoer.kill());
    const c = client(o);
    const id = await c.submit('echo', 'x', { delay: 500 });
    const t0 = (await c.get(id))!;
    const ended = await c.wait(id, { timeout: 10_000 });
    expect(ended.worker).toBe(echoer.address);
    expect(ended.start! - t0.runAt!, 'started within a fraction of the poll after its due time').toBeLessThan(2000);
  });

  it('survives a Redis restart from its AOF, and runs when due', async () => {
    const aof = await startRedis({ appendonly: true });
    cleanup.push(() => aof.stop());
    const o = aof.options();
    const c = client(o);
    const id = await c.submit('echo', 'kept', { delay: 1500 });
    // (appendfsync everysec: give the write its second to reach the disk)
    await new Promise((r) => setTimeout(r, 1100));
    await aof.restart();
    const r = aof.client();
    cleanup.push(async () => r.disconnect());
    await until(async () => (await r.ping()) === 'PONG', 'redis back');
    expect(await c.get(id)).toMatchObject({ state: 'DELAYED', reason: 'delay' });
    await worker(o);
    expect(await c.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', result: 'kept' });
  });
});

describe('many delayed tasks due at the same instant', () => {
  it('are all promoted and run, each succeeded (3,000 due together)', async () => {
    const o = server.options();
    const c = client(o);
    // due after the submits are all in, on a loaded machine too (12 batches; a submit promotes
    // what is due, a thousand at a time, so a due time passed mid-submit counted fewer here)
    const at = (await redisNow(redis)) + 3000;
    const n = 3000;
    const ids = await c.submitMany(Array.from({ length: n }, (_, i) => ({ fn: 'echo', data: i, options: { runAt: at } })));
    expect(await redis.zcard(keysFor(o.keyPrefix).placedDelayed)).toBe(n);
    await worker(o);
    await until(async () => (await redis.zcard(keysFor(o.keyPrefix).placedDelayed)) === 0, 'all promoted', 20_000);
    const ends = await Promise.all(ids.map((id) => c.wait(id, { timeout: 30_000 })));
    expect(ends.every((t) => t.outcome === 'succeeded')).toBe(true);
  });
});

describe('submit options', () => {
  it.each([
    ['a negative delay', { delay: -1 }, /submit: delay must be an integer number of ms/],
    ['a fractional delay', { delay: 1.5 }, /submit: delay must be an integer/],
    ['delay and runAt both', { delay: 10, runAt: Date.now() }, /give delay or runAt, not both/],
    ['an invalid Date', { runAt: new Date('nope') }, /submit: runAt must be a valid Date or epoch ms/],
    ['attempts 0', { attempts: 0 }, /submit: attempts must be an integer from 1 to 1000, got 0/],
    ['attempts NaN', { attempts: NaN }, /submit: attempts must be an integer from 1 to 1000, got NaN/],
    ['an unknown backoff type', { backoff: { type: 'linear', delay: 10 } }, /submit: backoff.type must be 'fixed' or 'exponential', got "linear"/],
    ['a backoff jitter over 1', { backoff: { type: 'fixed', delay: 10, jitter: 2 } }, /backoff.jitter must be a number from 0 to 1/],
    // (a cap under the first wait makes every wait the cap: the two numbers read the other way round)
    ['an exponential backoff capped below its delay', { backoff: { type: 'exponential', delay: 5000, max: 1000 } }, /submit: backoff.max \(1000 ms\) is below its delay \(5000 ms\)/],
    ['a fixed backoff capped below its delay', { backoff: { type: 'fixed', delay: 50, max: 49 } }, /submit: backoff.max \(49 ms\) is below its delay \(50 ms\)/],
    ['a negative backoff', { backoff: -5 }, /submit: backoff must be an integer number of ms/],
    ['a timeout of 0', { timeout: 0 }, /submit: timeout must be an integer number of ms from 1/],
    ['an empty key', { key: '' }, /submit: key must be a non-empty string/],
    ['an unknown option', { retries: 3 }, /submit: unknown option "retries"/],
  ])('%s is a ConfigError naming the option, and nothing is written', async (_, options, message) => {
    const o = server.options();
    const c = client(o);
    const before = await redis.dbsize();
    await expect(c.submit('echo', 1, options as object)).rejects.toThrow(message);
    await expect(c.submit('echo', 1, options as object)).rejects.toBeInstanceOf(ConfigError);
    expect(await redis.dbsize()).toBe(before);
  });
});
