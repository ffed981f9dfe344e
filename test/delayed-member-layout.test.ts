/**
 * A delayed task waits in `new-task:delayed` under its id (as every version has kept it) and in
 * `new-task:delayed:placed` under its place's member (`<seq>:<id>`), the order this version
 * promotes in; a retry waits under its place's member too. One delayed by the version before is
 * under its id alone, whatever the id looks like: promoted when due and run, cancelled. The
 * dashboard lists every delayed task once, by due time.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { taskPage } from '../src/dashboard/task-pages.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** task `id` as the version before delayed it: under its id alone, its hash unplaced */
async function asBefore(keys: ReturnType<typeof keysFor>, id: string): Promise<void> {
  const member = await redis.hget(keys.task(id), 'member');
  expect(await redis.zscore(keys.placedDelayed, member!), 'held under its member').not.toBeNull();
  expect(await redis.zscore(keys.delayed, id), 'held under its id').not.toBeNull();
  await redis.multi().zrem(keys.placedDelayed, member!).hdel(keys.task(id), 'member', 'score').exec();
}

describe('the delayed zset: members and ids', () => {
  it('a delayed task is held under its id and under "<seq>:<id>", and the dashboard lists it once, by its id, with its due time', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('echo', null, { delay: 60_000 });
    const [member] = await redis.zrange(keys.placedDelayed, 0, -1);
    expect(member).toMatch(new RegExp(`^\\d{14}:${id}$`));
    expect(await redis.zrange(keys.delayed, 0, -1)).toEqual([id]);
    const page = await taskPage(redis, [keys], 'delayed', '0', 10);
    expect(page.rows.map((r) => [r.id, r.state])).toEqual([[id, 'DELAYED']]);
    expect(page.rows[0]!.score).toBe((await c.get(id))!.runAt);
  });

  it('one delayed by the version before (under its id alone) is promoted when due and runs, beside one of this version', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const [first, before] = await c.submitMany([
      { fn: 'echo', data: 1, options: { delay: 300 } },
      { fn: 'echo', data: 2, options: { delay: 300 } },
    ]);
    await asBefore(keys, before!);
    const w = new Worker({ port: 0, redis: o, logger: quiet, concurrency: 1 });
    const ran: string[] = [];
    w.addTaskFunction('echo', (t) => void ran.push(t.id));
    cleanup.push(() => w.stop());
    await w.start();
    expect((await c.wait(before!, { timeout: 10_000 })).outcome).toBe('succeeded');
    expect((await c.wait(first!, { timeout: 10_000 })).outcome).toBe('succeeded');
    expect(ran.sort()).toEqual([first, before].sort());
    expect(await redis.zcard(keys.delayed)).toBe(0);
    expect(await redis.zcard(keys.placedDelayed)).toBe(0);
    expect(await redis.hget(keys.counts, 'd:echo')).toBeNull();
  });

  it('one delayed by the version before is cancelled: out of the zset, its count back to none', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('echo', null, { delay: 60_000 });
    await asBefore(keys, id);
    expect(await c.cancel(id)).toBe('cancelled');
    expect(await redis.zcard(keys.delayed)).toBe(0);
    expect(await redis.hget(keys.counts, 'd:echo')).toBeNull();
  });

  it('one delayed by this version is cancelled the same way: out of both zsets', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('echo', null, { delay: 60_000 });
    expect(await c.cancel(id)).toBe('cancelled');
    expect(await redis.zcard(keys.delayed)).toBe(0);
    expect(await redis.zcard(keys.placedDelayed)).toBe(0);
    expect(await redis.hget(keys.counts, 'd:echo')).toBeNull();
  });

  it('an id delayed by the version before that looks like a member ("<14 digits>:<id>") is read as that id', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('echo', null, { id: '00000000000007:odd', delay: 300 });
    await asBefore(keys, id);
    const w = new Worker({ port: 0, redis: o, logger: quiet, concurrency: 1 });
    w.addTaskFunction('echo', () => 'ran');
    cleanup.push(() => w.stop());
    await w.start();
    expect((await c.wait(id, { timeout: 10_000 })).result).toBe('ran');
    const page = await taskPage(redis, [keys], 'delayed', '0', 10);
    expect(page.rows).toEqual([]);
  });

  it('a retry waits under its place\'s member, and runs again when due', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const w = new Worker({ port: 0, redis: o, logger: quiet, concurrency: 1 });
    let tries = 0;
    w.addTaskFunction('flaky', () => {
      if (++tries === 1) throw new Error('first try');
      return 'second';
    });
    cleanup.push(() => w.stop());
    await w.start();
    const id = await c.submit('flaky', null, { attempts: 2, backoff: { type: 'fixed', delay: 500 } });
    const member = await until(async () => ((await c.get(id))?.state === 'DELAYED' ? await redis.hget(keys.task(id), 'member') : null), 'retrying', 10_000);
    expect(await redis.zscore(keys.placedDelayed, member)).not.toBeNull();
    expect((await c.wait(id, { timeout: 10_000 })).result).toBe('second');
  });
  it('the dashboard lists the delayed tasks of both versions by due time, each once across pages', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const ids = await c.submitMany(Array.from({ length: 5 }, (_, i) => ({ fn: 'echo', data: i, options: { delay: 60_000 + i } })));
    await asBefore(keys, ids[1]!);
    await asBefore(keys, ids[3]!);
    const seen: string[] = [];
    let from: string | null = '0';
    while (from !== null) {
      const page = await taskPage(redis, [keys], 'delayed', from, 2);
      expect(page.total).toBe(5);
      seen.push(...page.rows.map((r) => r.id));
      expect(page.rows.every((r) => r.state === 'DELAYED')).toBe(true);
      from = page.next;
    }
    expect(seen).toEqual(ids);
  });
});
