/**
 * A submitMany is several scripts when it is large (batches of 1,000, each written after the one
 * before has answered) or when the swarm has several partitions (a share per partition). When one
 * of them fails after another ran, the call rejects with a PartlySubmittedError that says what
 * became of every task, and says it truly:
 * - `submitted` are exactly the tasks Redis holds, `notSubmitted` are not there, `unknown` were
 *   sent and their answer lost, and `ids` is every task's id in the order given;
 * - submitting `notSubmitted` again (with their ids) completes the call: every task once, none
 *   twice. Made again whole, as the plain error used to invite, the tasks that ran were queued
 *   twice (a generated id is new each time);
 * - a call none of whose scripts ran, or whose only script's answer was lost, rejects with the
 *   failure as it is, as before.
 * Real faults: Redis's maxmemory refusing the scripts after the first has run, a frozen Redis.
 */
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, PartlySubmittedError } from '../src/index.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';
import { partitionOf } from '../src/partitions.js';
import { partitionPrefix } from '../src/partition-keys.js';

let server: RedisServer | undefined;
let client: Client | undefined;
afterEach(async () => {
  await client?.close();
  client = undefined;
  await server?.stop();
  server = undefined;
});

/** a task of ~2 KB, numbered: a batch of them is 2 MB */
const task = (i: number) => ({ fn: 'f', data: { i, pad: 'x'.repeat(2000) } });

/**
 * Redis refuses a script that could grow memory once its memory has grown by more than `room`
 * bytes from now (what it holds, and the commands it has read and not yet run)
 */
async function maxmemoryIn(admin: Redis, room: number): Promise<void> {
  await admin.config('SET', 'maxmemory-policy', 'noeviction');
  const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
  await admin.config('SET', 'maxmemory', String(used + room));
}

/** the ids of every task Redis holds for the client, by asking it for each of `ids` */
async function held(c: Client, ids: readonly string[]): Promise<string[]> {
  const found = await Promise.all(ids.map(async (id) => ((await c.get(id)) ? id : undefined)));
  return found.filter((id): id is string => id !== undefined);
}

async function partlyFailed(call: Promise<unknown>): Promise<PartlySubmittedError> {
  const e = await call.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(PartlySubmittedError);
  return e as PartlySubmittedError;
}

describe('a submitMany that failed after part of it ran', () => {
  it('of several batches, the second refused for memory: says the first is queued and the rest is not, and submitting the rest completes it once', async () => {
    server = await startRedis();
    const admin = server.client();
    client = new Client({ redis: server.options() });
    await client.submit('f', 'warm-up');
    // (the first batch, 2 MB as it arrives, runs; held, it leaves too little room for the second)
    await maxmemoryIn(admin, 3 * 1024 * 1024);
    const tasks = Array.from({ length: 2500 }, (_, i) => task(i));

    const e = await partlyFailed(client.submitMany(tasks));

    expect(e.code).toBe('ERR_PARTLY_SUBMITTED');
    expect(e.cause).toBeInstanceOf(Error);
    expect((e.cause as Error).message).toMatch(/^OOM /);
    expect(e.message).toMatch(/^submitMany: 1000 of 2500 tasks submitted, 1500 not: OOM /);
    expect(e.message).toMatch(/; made again whole, those submitted would be queued twice: submit again only those not submitted \(error\.notSubmitted\)$/);
    expect(e.ids).toHaveLength(2500);
    expect(e.submitted).toEqual(e.ids.slice(0, 1000));
    expect(e.notSubmitted).toEqual(e.ids.slice(1000));
    expect(e.unknown).toEqual([]);
    expect(await held(client, e.ids)).toEqual(e.submitted);

    await admin.config('SET', 'maxmemory', '0');
    const rest = e.ids.map((id, i) => ({ ...tasks[i]!, options: { id } })).filter((t) => e.notSubmitted.includes(t.options.id));
    expect(await client.submitMany(rest)).toEqual(e.notSubmitted);
    expect((await client.stats()).queued).toBe(2501);
    expect(await held(client, e.ids)).toEqual(e.ids);
  });

  it('over partitions, one share refused (an ACL without that partition\'s keys), the others run: says which tasks are queued, and submitting the rest completes it once', async () => {
    server = await startRedis();
    const admin = server.client();
    const prefix = '{pm}:';
    // (writes everywhere but partition 1's keys, which it may only read)
    const own = [prefix, partitionPrefix(prefix, 0, 3), partitionPrefix(prefix, 2, 3)].map((p) => `~${p}*`);
    await admin.call('ACL', 'SETUSER', 'p02', 'on', '>pw', '+@all', '&*', '%R~*', ...own);
    client = new Client({ redis: { ...server.options(), keyPrefix: prefix, partitions: 3, username: 'p02', password: 'pw' } });
    const tasks = Array.from({ length: 300 }, (_, i) => ({ fn: 'f', data: i }));

    const e = await partlyFailed(client.submitMany(tasks));

    expect((e.cause as Error).message).toMatch(/^NOPERM /);
    expect(e.ids).toHaveLength(300);
    expect(e.unknown).toEqual([]);
    expect(e.notSubmitted).toEqual(e.ids.filter((id) => partitionOf(id, 3) === 1));
    expect(e.submitted).toEqual(e.ids.filter((id) => partitionOf(id, 3) !== 1));
    expect(e.notSubmitted.length).toBeGreaterThan(0);
    const everyone = new Client({ redis: { ...server.options(), keyPrefix: prefix, partitions: 3 } });
    try {
      expect(await held(everyone, e.ids)).toEqual(e.submitted);
      const rest = e.ids.map((id, i) => ({ ...tasks[i]!, options: { id } })).filter((t) => e.notSubmitted.includes(t.options.id));
      await everyone.submitMany(rest);
      expect((await everyone.stats()).queued).toBe(300);
      expect(await held(everyone, e.ids)).toEqual(e.ids);
    } finally {
      await everyone.close();
    }
  });

  it('of several batches on a frozen Redis: the first sent and unanswered is not known, the rest not sent; the first runs when Redis wakes, and only it', async () => {
    server = await startRedis();
    client = new Client({ redis: server.options() });
    await client.submit('f', 'warm-up');
    const tasks = Array.from({ length: 2500 }, (_, i) => ({ fn: 'f', data: i }));
    server.freeze();
    let e: PartlySubmittedError;
    try {
      e = await partlyFailed(client.submitMany(tasks));
    } finally {
      server.thaw();
    }
    expect(e.message).toMatch(/^submitMany: 0 of 2500 tasks submitted, 1500 not, 1000 not known \(sent, the answer lost: they may be queued\): /);
    expect(e.submitted).toEqual([]);
    // (none submitted: what made again would queue twice is what may have run)
    expect(e.message).toMatch(/; made again whole, those submitted or not known could be queued twice: /);
    expect(e.unknown).toEqual(e.ids.slice(0, 1000));
    expect(e.notSubmitted).toEqual(e.ids.slice(1000));
    // (what was written ran when Redis woke: the batch sent, and nothing of the batches not sent)
    await until(async () => (await client!.stats()).queued === 1001, 'the batch sent to run once Redis woke');
    expect(await held(client, e.ids)).toEqual(e.unknown);
  }, 30_000);

  it('of several batches, the first refused for memory: nothing ran, and the refusal is told as it is', async () => {
    server = await startRedis();
    const admin = server.client();
    client = new Client({ redis: server.options() });
    await client.submit('f', 'warm-up');
    await maxmemoryIn(admin, -64 * 1024);
    const e = await client.submitMany(Array.from({ length: 2500 }, (_, i) => task(i))).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).not.toBeInstanceOf(PartlySubmittedError);
    // (told as Redis's refusal, typed: src/redis-refusal.ts)
    expect((e as Error).message).toMatch(/^Redis refused the write: it is full \(OOM /);
    expect(e).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE' });
    await admin.config('SET', 'maxmemory', '0');
    expect((await client.stats()).queued).toBe(1);
  });
});
