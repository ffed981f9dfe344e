/**
 * A Client given no maxPayloadBytes follows the live workers (src/payload-limit.ts): each writes
 * its maxPayloadBytes in `workers:max-payload` as it registers, and a task over 64 KiB is refused
 * at submit only when no live worker would take it. One describe block a concern; each says why
 * its behaviour matters and what failed before.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Monitor, TaskTooLargeError, Worker, type TaskFunction, type WorkerOptions } from '../src/index.js';
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
type Keys = ReturnType<typeof keysFor>;
let n = 0;

/** data whose task entry is about `bytes` long */
const sized = (bytes: number) => 'x'.repeat(bytes - 60);
/** what a worker serving 'f' answers by default: the length of its data */
const length: TaskFunction<string> = async (t) => t.data.length;

interface SwarmOptions {
  /** what the workers run as 'f'; null: they serve nothing (the tasks stay queued) */
  serve?: TaskFunction | null;
  /** more options of each worker (logger, advertise, fetchWorkerInterval) */
  worker?: Partial<WorkerOptions>;
  /** run before the first worker starts */
  ahead?: (keys: Keys) => Promise<unknown>;
}

/**
 * A swarm of its own (a key prefix), its Client given no limit, and one worker a limit of
 * `limits`, started one after the other in that order.
 */
async function swarm(limits: number[] = [], { serve = length, worker = {}, ahead }: SwarmOptions = {}) {
  const o = { ...server.options(), keyPrefix: `pl${++n}:` };
  const keys = keysFor(o.keyPrefix);
  await ahead?.(keys);
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  const workers: Worker[] = [];
  for (const maxPayloadBytes of limits) {
    const w = new Worker({ port: 0, redis: o, logger: quiet, ...worker, maxPayloadBytes });
    cleanup.push(() => w.stop());
    if (serve) w.addTaskFunction('f', serve);
    await w.start();
    workers.push(w);
  }
  return { o, c, workers, keys };
}

/** task `id` was not written: no hash, not queued, nothing on the queue */
async function notWritten(keys: Keys, id: string) {
  expect(await redis.exists(keys.task(id))).toBe(0);
  expect(await redis.sismember(keys.queued, id)).toBe(0);
  expect(await redis.llen(keys.newQueue)).toBe(0);
}


/**
 * A Client given no maxPayloadBytes follows the live workers: each writes its maxPayloadBytes in
 * `workers:max-payload` as it registers, and a task over 64 KiB is refused at submit when it is
 * over every one of them (no live worker would take it), nothing written. A Client of the last
 * version refused everything over a default 1 MiB: an app whose workers took more had its large
 * tasks refused after upgrading, with nothing configured on the Client. Now a task any live
 * worker takes goes in, and with no limit declared (no worker running, or workers from before the
 * hash, or rules that do not let the producer read it) nothing is refused on their account.
 */
describe("the live workers' limits", () => {
  describe("a Client given no maxPayloadBytes takes the live workers' limit", () => {
    it('a task over 1 MiB that a live worker takes is queued and run (the Client refused it before, by a default of its own)', async () => {
      const { c } = await swarm([4 * 1024 * 1024]);
      const data = sized(1.5 * 1024 * 1024);
      expect(await c.submit('f', data, { id: 'big' })).toBe('big');
      expect(await c.wait('big', { timeout: 15_000 })).toMatchObject({ outcome: 'succeeded', result: data.length });
    });

    it("one over every live worker's is refused, naming the largest; one under the largest is queued", async () => {
      const { c, keys } = await swarm([100_000, 150_000]);
      const err = await c.submit('f', sized(200_000), { id: 'over' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TaskTooLargeError);
      expect(err).toMatchObject({ limit: 150_000, bytes: Buffer.byteLength(JSON.stringify({ id: 'over', function: 'f', data: sized(200_000) })) });
      expect((err as Error).message).toMatch(/^submit: task "over" is \d+ bytes as JSON, over the maxPayloadBytes of every live worker \(the largest is 150000\): none would take it .*nothing was written$/);
      await notWritten(keys, 'over');
      // (queued: which worker claims it is not the Client's to say, and the one of 100000 parks it)
      expect(await c.submit('f', sized(120_000), { id: 'under' })).toBe('under');
    });

    it('submits of one tick: the one too large is refused alone, the others are queued', async () => {
      const { c, keys } = await swarm([100_000]);
      const [a, big, b] = await Promise.allSettled([c.submit('f', 'a', { id: 'a' }), c.submit('f', sized(200_000), { id: 'big' }), c.submit('f', 'b', { id: 'b' })]);
      expect(a).toEqual({ status: 'fulfilled', value: 'a' });
      expect(b).toEqual({ status: 'fulfilled', value: 'b' });
      expect(big.status === 'rejected' && big.reason).toBeInstanceOf(TaskTooLargeError);
      expect(await redis.exists(keys.task('big'))).toBe(0);
      expect(await redis.sismember(keys.queued, 'big')).toBe(0);
    });

    it("submitMany: one item over every live worker's refuses the whole call, naming its index; nothing written", async () => {
      const { c, keys } = await swarm([100_000]);
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
      const { c, keys } = await swarm([100_000]);
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

  describe("nothing is refused on the workers' account when they declared no limit", () => {
    it('no worker running: a task of 2 MiB is queued (its workers may start later, or predate the declaration)', async () => {
      const { c, keys } = await swarm();
      expect(await c.submit('f', sized(2 * 1024 * 1024), { id: 'big' })).toBe('big');
      expect(await redis.sismember(keys.queued, 'big')).toBe(1);
    });

    it('a worker that stops takes its limit with it', async () => {
      const { c, workers, keys } = await swarm([100_000]);
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
      const { workers, keys } = await swarm([100_000], { serve: null, worker: { fetchWorkerInterval: 200 } });
      const w = workers[0]!;
      // what a monitor's prune drops (requeue.lua), the worker still running
      await redis.hdel(keys.workerMaxPayload, w.address);
      await until(async () => (await redis.hget(keys.workerMaxPayload, w.address)) === '100000', 'the limit written again', 10_000);
    });

    it('a producer whose ACL rules predate the hash (it cannot read it): refused nothing, as before', async () => {
      const { o } = await swarm([100_000]);
      const p = o.keyPrefix;
      await redis.call('ACL', 'SETUSER', 'pl-old', 'reset', 'on', 'nopass', '+@all', `~${p}new-task*`, `~${p}task-*`, `~${p}tasks*`, `~${p}workers`);
      cleanup.push(() => redis.call('ACL', 'DELUSER', 'pl-old'));
      const c = new Client({ redis: { ...o, username: 'pl-old', password: 'x' } });
      cleanup.push(() => c.close());
      expect(await c.submit('f', sized(200_000), { id: 'big' })).toBe('big');
      expect(await c.submitMany([{ fn: 'f', data: sized(200_000), options: { id: 'many' } }])).toEqual(['many']);
    });

    it(`a task up to ${CHECKED_OVER} bytes is never read against the workers' limits: a worker of 1000 bytes parks it, as before`, async () => {
      const { c, keys } = await swarm([1000]);
      expect(await c.submit('f', sized(CHECKED_OVER), { id: 'mid' })).toBe('mid');
      await until(async () => (await redis.hlen(keys.dead.entries)) === 1, 'parked too_large', 10_000);
      expect(await redis.hvals(keys.dead.entries)).toEqual([expect.stringContaining('too_large')]);
    });
  });
});

/**
 * Two live worker processes under one address (address twins, src/address-owners.ts) with
 * different maxPayloadBytes share one field of `workers:max-payload`. A task the larger one takes
 * must not be refused by a Client given no limit because the smaller one registered, or
 * announced itself again, after it: a refusal is owed only when no live worker would take it.
 * Before, the smaller twin's register or refresh wrote its limit over the larger's, and such a
 * task was refused.
 */
describe('address twins of different maxPayloadBytes', () => {
  const ADDRESS = '10.255.255.2:7000';
  /** twins at ADDRESS of these limits, started in this order, each refreshing (announcing itself again) every 100 ms */
  const twins = (...limits: number[]) => swarm(limits, { serve: null, worker: { advertise: ADDRESS, fetchWorkerInterval: 100 } });

  it('the smaller registering after the larger: a task only the larger takes is still queued (submit, submitMany)', { timeout: 20_000 }, async () => {
    const { c, keys } = await twins(400_000, 100_000);
    // (several refreshes of each: each announces itself again)
    await new Promise((r) => setTimeout(r, 500));
    expect(Number(await redis.hget(keys.workerMaxPayload, ADDRESS))).toBe(400_000);
    expect(await c.submit('f', sized(200_000), { id: 'big' })).toBe('big');
    expect(await c.submitMany([{ fn: 'f', data: sized(200_000), options: { id: 'many' } }])).toEqual(['many']);
  });

  it('the larger registering after the smaller: its limit is the one read', { timeout: 20_000 }, async () => {
    const { keys } = await twins(100_000, 400_000);
    await new Promise((r) => setTimeout(r, 500));
    await until(async () => Number(await redis.hget(keys.workerMaxPayload, ADDRESS)) === 400_000, 'the larger limit read', 5000);
  });
});

/**
 * `workers:max-payload` is read by Clients only to refuse less: a key of another type there
 * (written by hand, by another app under the prefix) must not fail a worker's start or stop, as
 * junk in `workers:owners` fails no heartbeat (lib/address-owners.lua). The worker serves; the
 * Client refuses nothing on the workers' account. Before, start() failed with WRONGTYPE from
 * register, and every refresh logged 'worker list refresh failed'.
 */
describe('workers:max-payload of another type', () => {
  it('a worker starts, refreshes, runs a task and stops; a large task is queued', { timeout: 20_000 }, async () => {
    const said: string[] = [];
    const logger = { ...quiet, debug: (m: unknown) => void said.push(String(m)), warn: (m: unknown) => void said.push(String(m)) };
    const { c, workers, keys } = await swarm([100_000], {
      serve: async () => 'ran',
      worker: { logger, fetchWorkerInterval: 100 },
      ahead: (k) => redis.set(k.workerMaxPayload, 'not a hash'),
    });
    const w = workers[0]!;
    const id = await c.submit('f', 1);
    expect(await c.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', result: 'ran' });
    expect(await c.submit('g', 'x'.repeat(200_000), { id: 'big' })).toBe('big');
    // (its refreshes, which write its functions and limit again, fail on none of it)
    await new Promise((r) => setTimeout(r, 500));
    expect(said.filter((m) => /refresh failed|WRONGTYPE/.test(m))).toEqual([]);
    await w.stop();
    expect(await redis.sismember(keys.workerSet, w.address)).toBe(0);
    expect(await redis.get(keys.workerMaxPayload)).toBe('not a hash');
  });
});

/**
 * A task submitted again, the very same entry under its id (a submit ioredis resent after a
 * reconnect, its first reply lost; a submitMany made again after a PartlySubmittedError), is
 * answered with its id: the entry is the caller's own, queued. That holds for a large task too
 * when the live workers' limits changed in between (the one worker that took it stopped): its
 * entry was written, so "over every live worker's maxPayloadBytes ... nothing was written" would
 * tell the caller a queued task was not, and a caller that sends it elsewhere runs it twice.
 * Before, a submit resent, or a list submitted again, after the one worker taking it stopped, was
 * told 'nothing was written' of a queued task.
 */
describe('a large task submitted again after the worker that takes it stopped', () => {
  /** a worker of 400000 bytes (`large`) and one of 100000, serving nothing: tasks stay queued */
  const largeAndSmall = async () => {
    const s = await swarm([400_000, 100_000], { serve: null });
    return { ...s, large: s.workers[0]! };
  };

  it('submit: answered with its id, as any task submitted again (its entry is queued)', async () => {
    const { c, large, keys } = await largeAndSmall();
    const data = sized(200_000);
    expect(await c.submit('f', data, { id: 'big' })).toBe('big');
    await large.stop();
    expect(await c.submit('f', data, { id: 'big' })).toBe('big');
    expect(await redis.sismember(keys.queued, 'big')).toBe(1);
  });

  it('submitMany: answered with the ids, the large one among them', async () => {
    const { c, large, keys } = await largeAndSmall();
    const list = [
      { fn: 'f', data: 1, options: { id: 'one' } },
      { fn: 'f', data: sized(200_000), options: { id: 'big' } },
    ];
    expect(await c.submitMany(list)).toEqual(['one', 'big']);
    await large.stop();
    expect(await c.submitMany(list)).toEqual(['one', 'big']);
    expect(await redis.sismember(keys.queued, 'big')).toBe(1);
  });

  it('a new task as large is still refused', async () => {
    const { c, large } = await largeAndSmall();
    await large.stop();
    await expect(c.submit('f', sized(200_000), { id: 'new' })).rejects.toThrow(/over the maxPayloadBytes of every live worker \(the largest is 100000\)/);
    await expect(c.submitMany([{ fn: 'f', data: sized(200_000), options: { id: 'new' } }])).rejects.toThrow(/over the maxPayloadBytes of every live worker/);
  });
});

/**
 * A Client given no maxPayloadBytes refuses a task only when no live worker would take it. A
 * listed worker that declared no limit (a worker of the version before `workers:max-payload`,
 * beside upgraded ones in a rolling upgrade; one pruned while cut off and listed again by its
 * heartbeat before its refresh writes its limit again) might take anything: its presence refuses
 * nothing. And an entry of a worker no longer listed (pruned by a monitor of the version before,
 * which knows nothing of the hash) is no live worker's: it refuses nothing either. Before, in a
 * rolling upgrade a task the worker of the version before takes was refused at the upgraded
 * workers' smaller limit, and an entry a monitor of the version before left counted forever.
 */
describe('workers that declared no limit, and limits of no live worker', () => {
  /** a worker listed as the version before lists one: in `workers`, no limit written */
  async function listedBefore(keys: Keys, address: string) {
    await registerWorker(redis, keys, address, 10_000, { functions: ['f'], maxPayloadBytes: 1 });
    await redis.hdel(keys.workerMaxPayload, address);
  }

  describe('a listed worker that declared no limit, beside one that did', () => {
    it('a task over the declared one is queued (submit, submitMany, schedule)', async () => {
      const { c, keys } = await swarm([100_000], { serve: null });
      await listedBefore(keys, '10.255.255.3:7000');
      expect(await c.submit('f', sized(200_000), { id: 'big' })).toBe('big');
      expect(await c.submitMany([{ fn: 'f', data: sized(200_000), options: { id: 'many' } }])).toEqual(['many']);
      await expect(c.schedule('big', { every: 60_000 }, 'f', sized(200_000))).resolves.toMatchObject({ changed: true });
    });
  });

  describe('an entry of a worker no longer listed', () => {
    it('alone: refuses nothing (no live worker declared a limit)', async () => {
      const { c, keys } = await swarm([], { serve: null });
      await redis.hset(keys.workerMaxPayload, '10.255.255.4:7000', 100_000);
      expect(await c.submit('f', sized(200_000), { id: 'big' })).toBe('big');
      expect(await c.submitMany([{ fn: 'f', data: sized(200_000), options: { id: 'many' } }])).toEqual(['many']);
    });

    it("beside a live worker: the live one's limit is the one that counts", async () => {
      const { c, keys } = await swarm([100_000], { serve: null });
      await redis.hset(keys.workerMaxPayload, '10.255.255.4:7000', 400_000);
      await expect(c.submit('f', sized(200_000), { id: 'big' })).rejects.toThrow(/over the maxPayloadBytes of every live worker \(the largest is 100000\)/);
      await expect(c.submitMany([{ fn: 'f', data: sized(200_000), options: { id: 'many' } }])).rejects.toThrow(/the largest is 100000/);
    });
  });
});
