/**
 * Workers and clients of two versions share one swarm during a rolling upgrade (or after a
 * rollback): each runs its own function library (src/scripts.ts: the library's name holds a hash
 * of its code), on the same keys. A delayed task of this version waits in `new-task:delayed`
 * under its id, as the version before kept every delayed task (its claims promote from there,
 * keeping a hash's place; its cancels take the id out), and in `new-task:delayed:placed` under
 * its place's member (`<seq>:<id>`), the order this version promotes in. A task submitted by
 * either version runs once, whichever version promotes or cancels it, and `d:<fn>` counts the
 * tasks that are DELAYED.
 *
 * The version before is this library without `new-task:delayed:placed` (its name is one no key
 * has): what it promotes and cancels is `new-task:delayed` alone, as it was.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import type { ClaimRequest } from '../src/effects/queue.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { cancelBefore, claimBefore } from './helpers/version-before.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

function request(worker: string, fns: string[]): ClaimRequest {
  return { worker, max: 1, maxPayloadBytes: 1 << 20, functions: fns.map((name) => ({ name, room: 1 })), rotation: 0, token: '', acks: [] };
}

describe('delayed tasks across a rolling upgrade (workers and clients of the version before on the same keys)', () => {
  it('a task delayed by this version, promoted by a claim of the version before (a worker of another function), runs', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('echo', { n: 1 }, { delay: 200 });
    await new Promise((r) => setTimeout(r, 400));
    // an old worker that runs only `other` claims: its claim promotes whatever is due
    const req = request('old:1', ['other']);
    await claimBefore(redis, keys, req);
    // a worker of this version serves `echo`
    const w = new Worker({ port: 0, redis: o, logger: quiet, concurrency: 1 });
    w.addTaskFunction('echo', () => 'ran');
    cleanup.push(() => w.stop());
    await w.start();
    const end = await c.wait(id, { timeout: 5000 }).catch((e: Error) => e);
    const t = await c.get(id);
    const entries = (await redis.zcard(keys.delayed)) + (await redis.zcard(keys.placedDelayed));
    expect({ state: t?.state, delayedEntries: entries, dEcho: await redis.hget(keys.counts, 'd:echo') }).toEqual({ state: 'END', delayedEntries: 0, dEcho: null });
    expect(end).toMatchObject({ outcome: 'succeeded' });
  }, 20_000);

  it('a task held under its id, as the version before wrote it, is promoted by a claim of the version before and runs', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('echo', { n: 1 }, { delay: 200 });
    const member = (await redis.hget(keys.task(id), 'member'))!;
    const due = (await redis.zscore(keys.placedDelayed, member))!;
    await redis.multi().zrem(keys.placedDelayed, member).zadd(keys.delayed, due, id).hdel(keys.task(id), 'member', 'score').exec();
    await new Promise((r) => setTimeout(r, 400));
    const req = request('old:1', ['other']);
    await claimBefore(redis, keys, req);
    expect((await c.get(id))?.state).toBe('QUEUED');
    const w = new Worker({ port: 0, redis: o, logger: quiet, concurrency: 1 });
    w.addTaskFunction('echo', () => 'ran');
    cleanup.push(() => w.stop());
    await w.start();
    expect(await c.wait(id, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded' });
  }, 20_000);

  it('a task delayed by this version and cancelled by a client of the version before: never runs; once due, out of the zset and its count back to none', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('echo', null, { delay: 300 });
    const reply = await cancelBefore(redis, keys, id);
    expect(reply).toBe('cancelled');
    // (the version before removed the id alone, and counted nothing down: its entry is left
    // until it falls due, and a claim of this version reads it as stale)
    await new Promise((r) => setTimeout(r, 500));
    const ran: string[] = [];
    const w = new Worker({ port: 0, redis: o, logger: quiet, concurrency: 1 });
    w.addTaskFunction('other', () => {});
    w.addTaskFunction('echo', (t) => void ran.push(t.id));
    cleanup.push(() => w.stop());
    await w.start();
    await until(async () => (await redis.zcard(keys.placedDelayed)) === 0, 'the entry read', 5000);
    expect(await redis.hget(keys.counts, 'd:echo'), 'd:echo').toBeNull();
    expect(await c.get(id)).toMatchObject({ state: 'END', outcome: 'cancelled' });
    expect(ran).toEqual([]);
  }, 20_000);
});
