/**
 * A Client given no maxPayloadBytes follows the live workers: each writes its maxPayloadBytes in
 * `workers:max-payload` as it registers, and a task over 64 KiB is refused at submit when it is
 * over every one of them (no live worker would take it), nothing written. A Client of the last
 * version refused everything over a default 1 MiB: an app whose workers took more had its large
 * tasks refused after upgrading, with nothing configured on the Client. Now a task any live
 * worker takes goes in, and with no limit declared (no worker running, or workers from before the
 * hash, or rules that do not let the producer read it) nothing is refused on their account.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Monitor, TaskTooLargeError, Worker } from '../src/index.js';
import { CHECKED_OVER } from '../src/payload-limit.js';
import { registerWorker } from '../src/effects/registry.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { cliSwarm, expectOneLine } from './helpers/cli.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
let n = 0;

/** a swarm of its own (a key prefix), its Client given no limit, and workers of the given limits, started */
async function swarm(...limits: number[]) {
  const o = { ...server.options(), keyPrefix: `pl${++n}:` };
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  const workers = limits.map((maxPayloadBytes) => new Worker({ port: 0, redis: o, logger: quiet, maxPayloadBytes }));
  for (const w of workers) {
    cleanup.push(() => w.stop());
    w.addTaskFunction('f', async (t) => (t.data as string).length);
    await w.start();
  }
  return { o, c, workers, keys: keysFor(o.keyPrefix) };
}

/** data whose task entry is about `bytes` long */
const sized = (bytes: number) => 'x'.repeat(bytes - 60);

/** task `id` was not written: no hash, not queued, nothing on the queue */
async function notWritten(keys: ReturnType<typeof keysFor>, id: string) {
  expect(await redis.exists(keys.task(id))).toBe(0);
  expect(await redis.sismember(keys.queued, id)).toBe(0);
  expect(await redis.llen(keys.newQueue)).toBe(0);
}

describe("a Client given no maxPayloadBytes takes the live workers' limit", () => {
  it('a task over 1 MiB that a live worker takes is queued and run (the Client refused it before, by a default of its own)', async () => {
    const { c } = await swarm(4 * 1024 * 1024);
    const data = sized(1.5 * 1024 * 1024);
    expect(await c.submit('f', data, { id: 'big' })).toBe('big');
    expect(await c.wait('big', { timeout: 15_000 })).toMatchObject({ outcome: 'succeeded', result: data.length });
  });

  it("one over every live worker's is refused, naming the largest; one under the largest is queued", async () => {
    const { c, keys } = await swarm(100_000, 150_000);
    const err = await c.submit('f', sized(200_000), { id: 'over' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskTooLargeError);
    expect(err).toMatchObject({ limit: 150_000, bytes: Buffer.byteLength(JSON.stringify({ id: 'over', function: 'f', data: sized(200_000) })) });
    expect((err as Error).message).toMatch(/^submit: task "over" is \d+ bytes as JSON, over the maxPayloadBytes of every live worker \(the largest is 150000\): none would take it .*nothing was written$/);
    await notWritten(keys, 'over');
    // (queued: which worker claims it is not the Client's to say, and the one of 100000 parks it)
    expect(await c.submit('f', sized(120_000), { id: 'under' })).toBe('under');
  });

  it("submits of one tick: the one too large is refused alone, the others are queued", async () => {
    const { c, keys } = await swarm(100_000);
    const [a, big, b] = await Promise.allSettled([c.submit('f', 'a', { id: 'a' }), c.submit('f', sized(200_000), { id: 'big' }), c.submit('f', 'b', { id: 'b' })]);
    expect(a).toEqual({ status: 'fulfilled', value: 'a' });
    expect(b).toEqual({ status: 'fulfilled', value: 'b' });
    expect(big.status === 'rejected' && big.reason).toBeInstanceOf(TaskTooLargeError);
    expect(await redis.exists(keys.task('big'))).toBe(0);
    expect(await redis.sismember(keys.queued, 'big')).toBe(0);
  });

  it('submitMany: one item over every live worker\'s refuses the whole call, naming its index; nothing written', async () => {
    const { c, keys } = await swarm(100_000);
    const err = await c
      .submitMany([
        { fn: 'f', data: 1, options: { id: 'one' } },
        { fn: 'f', data: sized(90_000), options: { id: 'two' } },
        { fn: 'f', data: sized(200_000), options: { id: 'three' } },
      ])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskTooLargeError);
    expect((err as Error).message).toMatch(/^submitMany\[2\]: task "three" is \d+ bytes as JSON, over the maxPayloadBytes of every live worker \(the largest is 100000\)/);
    for (const id of ['one', 'two', 'three']) await notWritten(keys, id);
  });

  it('schedule(): one whose tasks no live worker would take is refused when set, nothing written', async () => {
    const { c, keys } = await swarm(100_000);
    await expect(c.schedule('big', { every: 60_000 }, 'f', sized(200_000))).rejects.toThrow(/^schedule "big": each task it queues is \d+ bytes as JSON, over the maxPayloadBytes of every live worker \(the largest is 100000\)/);
    expect(await redis.hlen(keys.schedules.defs)).toBe(0);
  });

  it('the CLI: `submit` with no --max-payload-bytes refuses in one line what no live worker takes', async () => {
    const cli = cliSwarm(server, redis, 'pl-cli:');
    cleanup.push(() => cli.client.close());
    const w = new Worker({ port: 0, redis: { ...server.options(), keyPrefix: 'pl-cli:' }, logger: quiet, maxPayloadBytes: 70_000 });
    cleanup.push(() => w.stop());
    await w.start();
    expectOneLine(await cli.run('submit', 'f', JSON.stringify(sized(100_000)), '--id', 'big'), 2, /^task-swarm: submit: task "big" is \d+ bytes as JSON, over the maxPayloadBytes of every live worker \(the largest is 70000\)/m);
    expect(await redis.exists('pl-cli:task-big')).toBe(0);
  });
});

describe('nothing is refused on the workers\' account when they declared no limit', () => {
  it('no worker running: a task of 2 MiB is queued (its workers may start later, or predate the declaration)', async () => {
    const { c, keys } = await swarm();
    expect(await c.submit('f', sized(2 * 1024 * 1024), { id: 'big' })).toBe('big');
    expect(await redis.sismember(keys.queued, 'big')).toBe(1);
  });

  it('a worker that stops takes its limit with it', async () => {
    const { c, workers, keys } = await swarm(100_000);
    expect(await redis.hgetall(keys.workerMaxPayload)).toEqual({ [workers[0]!.address]: '100000' });
    await workers[0]!.stop();
    expect(await redis.hlen(keys.workerMaxPayload)).toBe(0);
    expect(await c.submit('f', sized(200_000), { id: 'big' })).toBe('big');
  });

  it('a worker the monitors prune (silent) has its limit dropped with it', { timeout: 30_000 }, async () => {
    const { o, c, keys } = await swarm();
    // listed as a worker does, then never heard from again
    await registerWorker(server.client(), keys, '127.0.0.1:1', 100, { functions: ['f'], maxPayloadBytes: 100_000 });
    await expect(c.submit('f', sized(200_000), { id: 'refused' })).rejects.toBeInstanceOf(TaskTooLargeError);
    const m = new Monitor({ redis: o, logger: quiet, taskTimeout: 1000, checkTaskInterval: 200 });
    cleanup.push(() => m.stop());
    await m.start();
    await until(async () => (await redis.sismember(keys.workerSet, '127.0.0.1:1')) === 0, 'the silent worker pruned', 15_000);
    expect(await redis.hlen(keys.workerMaxPayload)).toBe(0);
    expect(await c.submit('f', sized(200_000), { id: 'big' })).toBe('big');
  });

  it('a worker pruned while it was cut off writes its limit again, with its functions', { timeout: 20_000 }, async () => {
    const o = { ...server.options(), keyPrefix: `pl${++n}:` };
    const keys = keysFor(o.keyPrefix);
    const w = new Worker({ port: 0, redis: o, logger: quiet, maxPayloadBytes: 100_000, fetchWorkerInterval: 200 });
    cleanup.push(() => w.stop());
    await w.start();
    // what a monitor's prune drops (requeue.lua), the worker still running
    await redis.hdel(keys.workerMaxPayload, w.address);
    await until(async () => (await redis.hget(keys.workerMaxPayload, w.address)) === '100000', 'the limit written again', 10_000);
  });

  it('a producer whose ACL rules predate the hash (it cannot read it): refused nothing, as before', async () => {
    const { o } = await swarm(100_000);
    const p = o.keyPrefix;
    await redis.call('ACL', 'SETUSER', 'pl-old', 'reset', 'on', 'nopass', '+@all', `~${p}new-task*`, `~${p}task-*`, `~${p}tasks*`, `~${p}workers`);
    cleanup.push(() => redis.call('ACL', 'DELUSER', 'pl-old'));
    const c = new Client({ redis: { ...o, username: 'pl-old', password: 'x' } });
    cleanup.push(() => c.close());
    expect(await c.submit('f', sized(200_000), { id: 'big' })).toBe('big');
    expect(await c.submitMany([{ fn: 'f', data: sized(200_000), options: { id: 'many' } }])).toEqual(['many']);
  });

  it(`a task up to ${CHECKED_OVER} bytes is never read against the workers' limits: a worker of 1000 bytes parks it, as before`, async () => {
    const { c, keys } = await swarm(1000);
    expect(await c.submit('f', sized(CHECKED_OVER), { id: 'mid' })).toBe('mid');
    await until(async () => (await redis.hlen(keys.dead.entries)) === 1, 'parked too_large', 10_000);
    expect(await redis.hvals(keys.dead.entries)).toEqual([expect.stringContaining('too_large')]);
  });
});
