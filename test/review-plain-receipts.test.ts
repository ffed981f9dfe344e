/**
 * What claims keep between calls outside a task's own keys: what they know of new-task's right
 * end (per database and queue, in the function library's memory: src/lua/lib/plain-window.lua),
 * and a worker's claim receipts (hash `workers:claims:<worker>`, claim.lua). The first must be
 * kept under the database the worker's connection really uses, however the worker was told it;
 * the second must never exist without an expiry, whatever Redis lost between two claims.
 */
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Client, Worker } from '../src/index.js';
import { resolveRedisConfig } from '../src/config.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { pushEntries, quiet } from './helpers/order.js';
import { holdingWorker, otherDatabase, pad, plainEntry } from './helpers/holding-worker.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe("the database a worker's claims keep what they know under", () => {
  it('is the one its redis url names', () => {
    const db = (redis: Record<string, unknown>) => resolveRedisConfig(redis).db;
    expect(db({ url: 'redis://127.0.0.1:1/2' })).toBe(2);
    expect(db({ url: 'redis://u:p@127.0.0.1:1/5?family=4' })).toBe(5);
    expect(db({ url: 'redis://127.0.0.1:1?db=3' })).toBe(3);
    expect(db({ url: 'redis://127.0.0.1:1' })).toBe(0);
    expect(db({ url: 'redis://127.0.0.1:1/' })).toBe(0);
    expect(db({ url: 'redis://127.0.0.1:1/0' })).toBe(0);
  });
});

describe("a worker's receipts hash, lost in Redis between two of its claims", () => {
  /** a worker holding its one slot with `h`, its receipts hash made (with its expiry) by that claim */
  async function holding() {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const { ids, release, w } = await holdingWorker(o, 'h', cleanup);
    const receipts = keys.claimReceipts(w.address);
    await c.submit('f', null, { id: 'h' });
    await until(() => ids.length === 1, 'h started');
    expect(await redis.pttl(receipts)).toBeGreaterThan(0);
    return { c, ids, release, receipts };
  }

  it('deleted (an operator, FLUSHALL): the next claim that keeps a receipt makes it with an expiry', async () => {
    const { c, ids, release, receipts } = await holding();
    await redis.flushall();
    // (no claim failed: the worker was running h, its connection never broke)
    await c.submit('f', null, { id: 'n1' });
    release();
    await until(() => ids.length === 2, 'n1 started');
    await until(async () => (await redis.exists(receipts)) === 1, 'the receipt of the claim that took n1');
    // -1: a hash without an expiry, which the worker killed now would leave for good
    expect(await redis.pttl(receipts)).toBeGreaterThan(0);
  });

  it('Redis restarted without persistence: the first claim after keeps its receipt under an expiry', async () => {
    const { c, ids, release, receipts } = await holding();
    await server.restart();
    await until(async () => (await redis.ping().catch(() => '')) === 'PONG', 'Redis back');
    // (another claim by the same worker, once h ends; the worker's claims did not fail: none was
    // in flight while Redis was away)
    await c.submit('f', null, { id: 'n1' });
    release();
    await until(() => ids.includes('n1'), 'n1 started', 20_000);
    await until(async () => (await redis.exists(receipts)) === 1, 'the receipt of the claim that took n1');
    expect(await redis.pttl(receipts)).toBeGreaterThan(0);
  });
});

describe("a worker's receipts hash, the worker's one function capped below its concurrency", () => {
  it('holds a few receipts at most however many tasks it ran: no acknowledgement is lost with a claim the worker did not send', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    let done = 0;
    const w = new Worker({ port: 0, redis: o, logger: quiet, concurrency: 4 });
    w.addTaskFunction(
      'f',
      async () => {
        await new Promise((r) => setTimeout(r, 2));
        done++;
      },
      { concurrency: 1 },
    );
    cleanup.push(() => w.stop());
    await w.start();
    const receipts = keys.claimReceipts(w.address);
    let most = 0;
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) ids.push(await c.submit('f', { i }));
    await until(async () => {
      most = Math.max(most, await redis.hlen(receipts));
      return done === 200;
    }, '200 tasks ran', 30_000);
    most = Math.max(most, await redis.hlen(receipts));
    // (8 answered, the claims in flight, and `ttl`)
    expect(most).toBeLessThanOrEqual(12);
  });
});

describe("new-task:plain, where claims of earlier versions kept what they knew of new-task's right end", () => {
  it('left by such a claim (an upgrade), it is removed by the claims that read the window', async () => {
    const o = server.options();
    const queue = keysFor(o.keyPrefix).newQueue;
    const plainKey = `${queue}:plain`;
    await pushEntries(redis, o.keyPrefix, Array.from({ length: 100 }, (_, i) => plainEntry(`p${pad(i)}`)));
    // (as a claim of an earlier version left it: 60 entries known plain, p040 at the right end)
    await redis.hset(plainKey, 'n', '60', 'head', plainEntry('p040'));
    const { ids } = await holdingWorker(o, '', cleanup);
    await until(() => ids.length === 100, '100 starts', 20_000);
    expect(ids).toEqual(Array.from({ length: 100 }, (_, i) => `p${pad(i)}`));
    expect(await redis.exists(plainKey)).toBe(0);
  });
});

describe("what claims know of new-task's right end, the dataset wiped or swapped since", () => {
  /** a worker holding p000 of 100 plain entries, knowing the 99 left plain, p001 next */
  async function knowing(o: ReturnType<RedisServer['options']>) {
    const a = await holdingWorker(o, 'p000', cleanup);
    cleanup.push(async () => a.release());
    await pushEntries(redis, o.keyPrefix, Array.from({ length: 100 }, (_, i) => plainEntry(`p${pad(i)}`)));
    await until(() => a.ids.length === 1, 'p000 started');
    return a;
  }
  /** oldest first: p001 again, an urgent entry right behind it, 20 plain ones */
  const rebuilt = () => [plainEntry('p001'), plainEntry('urgent', ',"priority":5'), ...Array.from({ length: 20 }, (_, i) => plainEntry(`q${pad(i)}`))];

  it('FLUSHDB, and the queue fed again with the same entry at its right end: the window is read again', async () => {
    const o = server.options();
    const queue = keysFor(o.keyPrefix).newQueue;
    const a = await knowing(o);
    await redis.flushdb();
    await redis.lpush(queue, ...rebuilt());
    a.release();
    await until(() => a.ids.length >= 23, '23 starts', 20_000);
    expect(a.ids.slice(1, 3)).toEqual(['urgent', 'p001']);
  });

  it('SWAPDB with a database whose queue holds the same entry at its right end: the window is read again', async () => {
    const o = server.options();
    const queue = keysFor(o.keyPrefix).newQueue;
    const db3 = otherDatabase(o, 3, cleanup);
    const a = await knowing(o);
    await db3.lpush(queue, ...rebuilt());
    await redis.swapdb(0, 3);
    a.release();
    await until(() => a.ids.length >= 23, '23 starts', 20_000);
    expect(a.ids.slice(1, 3)).toEqual(['urgent', 'p001']);
  });

  it('nothing changed by other means: a worker draining plain entries reads the window once per window, not at every claim', async () => {
    const o = server.options();
    const { ids } = await holdingWorker(o, '', cleanup);
    await redis.config('RESETSTAT');
    await pushEntries(redis, o.keyPrefix, Array.from({ length: 300 }, (_, i) => plainEntry(`p${pad(i)}`)));
    await until(() => ids.length === 300, '300 starts', 20_000);
    const lrange = /cmdstat_lrange:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1];
    expect(Number(lrange ?? 0)).toBeLessThan(30);
  });
});
