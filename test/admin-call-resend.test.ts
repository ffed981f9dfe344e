/**
 * The administrative calls whose reply is lost with their connection. ioredis resends a written
 * call whose connection closed before its reply came (autoResendUnfulfilledCommands), so the
 * call runs twice; the second run finds nothing left to do (the dead letter retried or purged,
 * the schedule gone, nothing paused). Each call carries a token of its own, recorded with its
 * effect, and its second run answers what the first did: true, never false for work it did.
 * The fault: a TCP proxy between the Client and Redis that delays every chunk, then closes the
 * connection while the reply is on its way back.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Worker } from '../src/index.js';
import { buildKeys } from '../src/keys.js';
import { resolveRedisConfig } from '../src/config.js';
import { partitionKeys } from '../src/partitions.js';
import { runScript } from '../src/scripts.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { replyLost, startProxy } from './helpers/tcp-proxy.js';
import { quiet } from './helpers/order.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** a Client that talks to Redis through a proxy the test controls, and one that does not */
async function throughProxy(extra: Record<string, unknown> = {}) {
  const o = server.options(extra);
  const proxy = await startProxy('127.0.0.1', server.port);
  cleanup.push(() => proxy.close());
  const c = new Client({ redis: { ...o, port: proxy.port } });
  const reader = new Client({ redis: o });
  cleanup.push(() => c.close(), () => reader.close());
  return { o, proxy, c, reader };
}


/** what its one run did (true), or that it may have run: never false */
function expectRan(settled: { result: boolean } | { error: unknown }): void {
  if ('error' in settled) expect((settled.error as Error).message).toMatch(/may (still )?(have )?run/);
  else expect(settled).toEqual({ result: true });
}

describe('an administrative call whose reply is lost with its connection', () => {
  it("retryDead answers true (or that it may have run), and the dead letter's task is queued once and runs once", async () => {
    const { o, proxy, c, reader } = await throughProxy();
    const small = new Worker({ port: 0, redis: o, logger: quiet, maxPayloadBytes: 200 });
    small.addTaskFunction('echo', async (t) => t.data);
    cleanup.push(() => small.stop());
    await small.start();
    const id = await c.submit('echo', 'x'.repeat(300)); // too large for this worker: parked
    const parked = await c.wait(id, { timeout: 5000 });
    expect(parked.parked?.reason).toBe('too_large');
    await small.stop();

    expectRan(await replyLost(proxy, () => c.retryDead(parked.parked!.key)));
    expect(await reader.deadLetters()).toEqual([]);
    expect(await reader.get(id)).toMatchObject({ state: 'QUEUED' });
    expect(await redis.llen(buildKeys(resolveRedisConfig(o)).newQueue)).toBe(1);
    // a call of its own, later, finds nothing to retry
    expect(await c.retryDead(parked.parked!.key)).toBe(false);

    let runs = 0;
    const big = new Worker({ port: 0, redis: o, logger: quiet });
    big.addTaskFunction('echo', async (t) => (runs++, t.data));
    cleanup.push(() => big.stop());
    await big.start();
    expect(await reader.wait(id, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', attempt: 1 });
    await sleep(300);
    expect(runs).toBe(1);
    expect(await reader.deadLetters()).toEqual([]);
  }, 30_000);

  it('purgeDead of a junk letter (no task hash) answers true (or that it may have run), and the letter is gone', async () => {
    const { o, proxy, c, reader } = await throughProxy();
    const w = new Worker({ port: 0, redis: o, logger: quiet });
    w.addTaskFunction('echo', async (t) => t.data);
    cleanup.push(() => w.stop());
    await w.start();
    await redis.lpush(buildKeys(resolveRedisConfig(o)).newQueue, 'not a task');
    const [letter] = await until(async () => {
      const l = await c.deadLetters();
      return l.length ? l : undefined;
    }, 'the junk parked');
    expect(letter).toMatchObject({ reason: 'bad_json', task: false });
    // (the client's server check made before the fault: the purge itself is what is written then)
    expect(await c.unschedule('none')).toBe(false);

    expectRan(await replyLost(proxy, () => c.purgeDead(letter!.key)));
    expect(await reader.deadLetter(letter!.key)).toBeNull();
    expect(await reader.deadLetters()).toEqual([]);
    expect(await c.purgeDead(letter!.key)).toBe(false);
  }, 30_000);

  it('unschedule answers true (or that it may have run), and the schedule is gone', async () => {
    const { o, proxy, c, reader } = await throughProxy();
    await c.schedule('hourly', { every: 3_600_000 }, 'report');
    expect(await reader.schedules()).toMatchObject([{ name: 'hourly' }]);
    const calls = buildKeys(resolveRedisConfig(o)).adminCalls;
    await redis.zadd(calls, 1, 'a-call-long-ago');

    expectRan(await replyLost(proxy, () => c.unschedule('hourly')));
    expect(await reader.schedules()).toEqual([]);
    expect(await c.unschedule('hourly')).toBe(false);
    // the tokens are kept ten minutes: an older one is dropped by the next call that records one
    expect(await redis.zscore(calls, 'a-call-long-ago')).toBeNull();
    expect(await redis.zcard(calls)).toBe(2); // (the schedule's call, and this one)
    expect(await redis.pttl(calls)).toBeGreaterThan(590_000);
  }, 30_000);

  it('resume answers true (or that it may have run), and the function is no longer paused', async () => {
    const { o, proxy, c, reader } = await throughProxy();
    await c.pause('echo');
    const held = await c.submit('echo', 'held');

    expectRan(await replyLost(proxy, () => c.resume('echo')));
    expect(await redis.smembers(buildKeys(resolveRedisConfig(o)).paused)).toEqual([]);
    expect(await c.resume('echo')).toBe(false);
    const w = new Worker({ port: 0, redis: o, logger: quiet });
    w.addTaskFunction('echo', async (t) => t.data);
    cleanup.push(() => w.stop());
    await w.start();
    expect(await reader.wait(held, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', result: 'held' });
  }, 30_000);

  it('resume of a swarm in partitions answers true (or that it may have run), and no partition is paused', async () => {
    const prefix = `{resend-${process.pid}-${Date.now()}}:`;
    const { o, proxy, c } = await throughProxy({ keyPrefix: prefix, partitions: 3 });
    await c.pause();

    expectRan(await replyLost(proxy, () => c.resume()));
    const config = resolveRedisConfig(o);
    for (const k of partitionKeys(config)) expect(await redis.smembers(k.paused)).toEqual([]);
    expect(await c.resume()).toBe(false);
  }, 30_000);
});

describe('administrative calls in flight together whose replies are lost', () => {
  it('a pause then a resume of the same function, both sent again: the function ends resumed, as the last call asked', async () => {
    const { o, proxy, c } = await throughProxy();
    expect(await c.resume('echo')).toBe(false); // (the server check made before the fault)

    const settled = await replyLost(proxy, () => Promise.allSettled([c.pause('echo'), c.resume('echo')]));
    expect('result' in settled).toBe(true);
    const [paused, resumed] = (settled as { result: PromiseSettledResult<unknown>[] }).result;
    if (paused!.status === 'rejected') expect((paused!.reason as Error).message).toMatch(/may (still )?(have )?run/);
    if (resumed!.status === 'rejected') expect((resumed!.reason as Error).message).toMatch(/may (still )?(have )?run/);
    else expect(resumed!.value).toBe(true);
    // the pause ran before the resume, whatever was sent again
    expect(await redis.smembers(buildKeys(resolveRedisConfig(o)).paused)).toEqual([]);
  }, 30_000);

  it("a pause whose reply is lost, and another client's resume before it is sent again: the function ends resumed", async () => {
    const { o, proxy, c, reader } = await throughProxy();
    await c.resume('echo'); // (the server check made before the fault)
    await reader.resume('echo');

    const settled = await replyLost(proxy, async () => {
      const paused = c.pause('echo');
      paused.catch(() => {});
      await sleep(500); // (the pause has run; its reply is on its way back)
      expect(await reader.resume('echo')).toBe(true);
      return paused;
    });
    if ('error' in settled) expect((settled.error as Error).message).toMatch(/may (still )?(have )?run/);
    expect(await redis.smembers(buildKeys(resolveRedisConfig(o)).paused)).toEqual([]);
  }, 30_000);

  it("a resume whose reply is lost, and another client's pause before it is sent again: the function stays paused", async () => {
    const { o, proxy, c, reader } = await throughProxy();
    await c.pause('echo'); // (the server check made before the fault)

    const settled = await replyLost(proxy, async () => {
      const resumed = c.resume('echo');
      resumed.catch(() => {});
      await sleep(500); // (the resume has run; its reply is on its way back)
      await reader.pause('echo');
      return resumed;
    });
    expectRan(settled);
    expect(await redis.smembers(buildKeys(resolveRedisConfig(o)).paused)).toEqual(['echo']);
  }, 30_000);

  it("a schedule whose reply is lost, and another client's unschedule before it is sent again: the schedule stays removed", async () => {
    const { proxy, c, reader } = await throughProxy();
    expect(await c.unschedule('hourly')).toBe(false); // (the server check made before the fault)

    proxy.delay(400);
    // schedule() reads Redis's clock first (a round trip: 800 ms here), then writes its script,
    // which runs at about 1200 ms; its reply is on its way back when the connection closes
    const set = c.schedule('hourly', { every: 3_600_000 }, 'report').then(
      (result) => ({ result }),
      (error: unknown) => ({ error }),
    );
    await until(async () => ((await reader.schedules()).length ? true : undefined), 'the schedule written', 3000);
    expect(await reader.unschedule('hourly')).toBe(true);
    proxy.reset();
    await sleep(100);
    proxy.heal();
    const settled = await set;
    if ('error' in settled) expect((settled.error as Error).message).toMatch(/may (still )?(have )?run/);
    await sleep(200);
    expect(await reader.schedules()).toEqual([]);
  }, 30_000);

  it('a schedule set then removed, made together, their replies lost: the removal waits for the schedule, and the schedule is gone', async () => {
    const { proxy, c, reader } = await throughProxy();
    await c.schedule('hourly', { every: 3_600_000 }, 'report');
    expect(await c.unschedule('hourly')).toBe(true);

    // (a call made after schedule() waits for its answer: Client.holdingLater)
    const settled = await replyLost(proxy, () => Promise.allSettled([c.schedule('hourly', { every: 1_800_000 }, 'report'), c.unschedule('hourly')]));
    expect('result' in settled).toBe(true);
    const [, removed] = (settled as { result: PromiseSettledResult<unknown>[] }).result;
    if (removed!.status === 'rejected') expect((removed!.reason as Error).message).toMatch(/may (still )?(have )?run/);
    else expect(removed!.value).toBe(true);
    expect(await reader.schedules()).toEqual([]);
  }, 30_000);
});

describe('an administrative script run again with its call token', () => {
  it('answers 1, what its first run did; another call finds nothing to do (0)', async () => {
    const o = server.options();
    const k = buildKeys(resolveRedisConfig(o));
    const entry = JSON.stringify({ key: '7', reason: 'too_large', message: 'hand-made', raw: JSON.stringify({ id: 'r-1', function: 'f' }), at: 1 });
    const twice = async (name: Parameters<typeof runScript>[1], keys: string[], args: string[], argsOfAnother: string[]) => [
      await runScript(redis, name, keys, args),
      await runScript(redis, name, keys, args),
      await runScript(redis, name, keys, argsOfAnother),
    ];

    await redis.hset(k.dead.entries, '7', entry);
    expect(await twice('retry-dead', [...k.deadStore, k.newQueue, k.adminCalls], ['7', k.taskKeyPrefix, 'r'], ['7', k.taskKeyPrefix, 'r2'])).toEqual([1, 1, 0]);
    expect(await redis.lrange(k.newQueue, 0, -1)).toEqual([JSON.stringify({ id: 'r-1', function: 'f' })]);

    await redis.hset(k.dead.entries, '8', 'junk');
    expect(await twice('purge-dead', [...k.deadStore, k.adminCalls], ['8', k.taskKeyPrefix, 'p'], ['8', k.taskKeyPrefix, 'p2'])).toEqual([1, 1, 0]);
    expect(await redis.hexists(k.dead.entries, '8')).toBe(0);

    await redis.hset(k.schedules.defs, 'n', '{}');
    expect(await twice('unschedule', [k.schedules.defs, k.schedules.due, k.schedules.last, k.adminCalls], ['n', 'u'], ['n', 'u2'])).toEqual([1, 1, 0]);

    // schedule: its answer is kept with its token (a call that found the same definition answers 0 again),
    // told with the due time it leaves
    const sched = [k.schedules.defs, k.schedules.due, k.adminCalls];
    expect(await twice('set-schedule', sched, ['m', '{"a":1}', '5', 'c'], ['m', '{"a":1}', '5', 'c2'])).toEqual([[1, '5'], [1, '5'], [0, '5']]);
    expect(await twice('set-schedule', sched, ['m', '{"a":1}', '6', 'd'], ['m', '{"a":2}', '7', 'd2'])).toEqual([[0, '5'], [0, '5'], [1, '7']]);
    expect(await redis.hget(k.schedules.defs, 'm')).toBe('{"a":2}');

    await redis.sadd(k.paused, 'f');
    expect(await twice('resume', [k.newQueue, k.adminCalls], ['f', 's'], ['f', 's2'])).toEqual([1, 1, 0]);
    // a call with no token ('') is not recorded
    await redis.sadd(k.paused, 'f');
    expect(await twice('resume', [k.newQueue, k.adminCalls], ['f', ''], ['f', ''])).toEqual([1, 0, 0]);
    expect((await redis.zrange(k.adminCalls, 0, -1)).sort()).toEqual(['c2:0', 'c:1', 'd2:1', 'd:0', 'p', 'r', 's', 'u']);
  });
});
