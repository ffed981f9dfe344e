/**
 * A claim's receipt (claim.lua, under the claim's token): a claim that reaches Redis again with
 * the same token (its reply was lost, ioredis sent it again after a reconnect) answers what it
 * took the first time, as the first answer would have read, and takes nothing more; once the
 * worker has given the token up (claim-recover.lua), what the claim took goes back to the queue
 * and the token takes nothing, however late it arrives.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Worker } from '../src/index.js';
import { claim, recoverClaims } from '../src/effects/queue.js';
import { claimAs, keysFor, requestFor } from './properties/harness.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { quiet } from './helpers/order.js';
import { freePort } from '../tools/redis-process.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const W = '127.0.0.1:7';

async function queued(n: number) {
  const o = server.options();
  const keys = keysFor(o.keyPrefix);
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await c.submit('f', { i }));
  return { keys, ids };
}

describe("a claim's receipt", () => {
  it('answers a claim sent again with its token exactly as the first answer, and takes nothing more', async () => {
    const { keys, ids } = await queued(5);
    const first = await claimAs(redis, keys, W, 3, 1 << 20, ['f'], 'tok.1');
    expect(first.claimed.map((t) => t.id)).toEqual(ids.slice(0, 3));
    expect(first.receipt).toBe(true);
    const again = await claimAs(redis, keys, W, 3, 1 << 20, ['f'], 'tok.1');
    expect(again.claimed).toEqual(first.claimed);
    expect(again.now).toBe(first.now);
    // (the receipt keeps each task's attempt as the claim wrote it: the first)
    expect(again.claimed.map((t) => t.attempt)).toEqual([1, 1, 1]);
    // the other two are still queued: a new token takes them
    const next = await claimAs(redis, keys, W, 3, 1 << 20, ['f'], 'tok.2');
    expect(next.claimed.map((t) => t.id)).toEqual(ids.slice(3));
  });

  it('hands back what a given-up claim took, and a late arrival of its token takes nothing', async () => {
    const { keys, ids } = await queued(4);
    const lost = await claimAs(redis, keys, W, 2, 1 << 20, ['f'], 'tok.1');
    expect(lost.claimed.map((t) => t.id)).toEqual(ids.slice(0, 2));
    expect((await recoverClaims(redis, keys, W, ['tok.1'])).sort()).toEqual(ids.slice(0, 2).sort());
    for (const id of ids.slice(0, 2)) expect(await redis.hget(keys.task(id), 'state')).toBe('QUEUED');
    const late = await claimAs(redis, keys, W, 4, 1 << 20, ['f'], 'tok.1');
    expect(late.claimed).toEqual([]);
    // handed back to their places: taken again first, each a new attempt of the same count
    const again = await claimAs(redis, keys, W, 4, 1 << 20, ['f'], 'tok.2');
    expect(again.claimed.map((t) => t.id)).toEqual(ids);
    expect(again.claimed.map((t) => t.attempt)).toEqual([1, 1, 1, 1]);
  });

  it("answers a claim sent again in the first answer's order when a task's data was removed by hand since: that one with none, the others whole", async () => {
    const { keys, ids } = await queued(3);
    const first = await claimAs(redis, keys, W, 3, 1 << 20, ['f'], 'tok.1');
    await redis.hdel(keys.task(ids[0]!), 'data');
    const again = await claimAs(redis, keys, W, 3, 1 << 20, ['f'], 'tok.1');
    expect(again.claimed.map((t) => t.id)).toEqual(ids);
    expect(again.claimed.map((t) => t.raw)).toEqual(['', first.claimed[1]!.raw, first.claimed[2]!.raw]);
    expect(again.claimed.map((t) => t.lease)).toEqual(first.claimed.map((t) => t.lease));
  });
});

describe("a worker's receipts hash (dropped a few at a time, its expiry set once a minute)", () => {
  /** a worker of concurrency 1 draining n tasks, with every PTTL and HLEN of its receipts read meanwhile */
  async function drainWatched(n: number, meddle?: (receipts: string, done: number) => Promise<void>) {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    let done = 0;
    const w = new Worker({ port: 0, redis: o, logger: quiet, concurrency: 1 });
    w.addTaskFunction('f', async () => {
      done++;
    });
    cleanup.push(() => w.stop());
    await w.start();
    const receipts = keys.claimReceipts(w.address);
    const ttls: number[] = [];
    const sizes: number[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const [ttl, size] = (await redis.multi().pttl(receipts).hlen(receipts).exec())!.map(([, v]) => v as number);
        ttls.push(ttl!);
        sizes.push(size!);
        if (meddle) await meddle(receipts, done);
      }
    })();
    for (let i = 0; i < n; i++) await c.submit('f', { i });
    await until(() => done === n, `${n} tasks ran`, 20_000);
    watching = false;
    await watcher;
    return { receipts, ttls, sizes };
  }

  it('has an expiry whenever it exists, and holds a few receipts at most', async () => {
    const { ttls, sizes } = await drainWatched(300);
    expect(ttls.length).toBeGreaterThan(50);
    // (-2: no key; -1: a key without an expiry, which a worker killed then would leave for good)
    expect(ttls.filter((t) => t === -1)).toEqual([]);
    expect(ttls.some((t) => t > 0)).toBe(true);
    // (8 answered, the two lanes' claims in flight, and `ttl`)
    expect(Math.max(...sizes)).toBeLessThanOrEqual(11);
  });

  it('deleted by hand while the worker drains: it has an expiry again within a batch of acknowledgements', async () => {
    let deleted = false;
    const { receipts } = await drainWatched(100, async (key, done) => {
      if (!deleted && done >= 30) {
        deleted = true;
        await redis.del(key);
      }
    });
    expect(deleted).toBe(true);
    expect(await redis.exists(receipts)).toBe(1);
    expect(await redis.pttl(receipts)).toBeGreaterThan(0);
  });
});

describe("a worker's receipts hash, the worker restarted at the same address", () => {
  it("holds no receipt of the earlier process once the new one has claimed: a restart leaves nothing behind for good", async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const port = await freePort();
    const run = async (n: number) => {
      let done = 0;
      const w = new Worker({ host: '127.0.0.1', port, redis: o, logger: quiet, concurrency: 1 });
      w.addTaskFunction('f', async () => {
        done++;
      });
      await w.start();
      for (let i = 0; i < n; i++) await c.submit('f', { i });
      await until(() => done === n, `${n} tasks ran`);
      const receipts = keys.claimReceipts(w.address);
      await w.stop();
      return { receipts, fields: (await redis.hkeys(receipts)).filter((f) => f !== 'ttl') };
    };
    const first = await run(21);
    // (what the first process left: receipts of answered claims it had not acknowledged yet)
    expect(first.fields.length).toBeGreaterThan(0);
    const second = await run(3);
    expect(second.receipts).toBe(first.receipts);
    expect(second.fields.filter((f) => first.fields.includes(f))).toEqual([]);
  });
});

describe('a claim carrying more acknowledgements than one command takes (a worker back from a long outage)', () => {
  it('drops them all and claims: 9,000 tokens given up, acknowledged in one claim', async () => {
    const { keys, ids } = await queued(1);
    const gaveUp = Array.from({ length: 9000 }, (_, i) => `old.${i}`);
    // (cancelled as the ledger cancels a claim it gave up: an empty receipt each)
    await recoverClaims(redis, keys, W, gaveUp);
    expect(await redis.hlen(keys.claimReceipts(W))).toBe(9000);
    const reply = await claim(redis, keys, { ...requestFor(W, 1, 1 << 20, ['f'], 'new.1'), acks: gaveUp });
    expect(reply.claimed.map((t) => t.id)).toEqual(ids);
    expect((await redis.hkeys(keys.claimReceipts(W))).filter((f) => f !== 'ttl')).toEqual(['new.1']);
  });
});
