/**
 * An idle worker woken by one entry (the pickup): the queue one entry long is the whole window,
 * so the claim takes it on its steady path without knowing anything of the queue first
 * (claim.lua). Whatever that one entry is, it is handled as the routing of a window would
 * handle it: claimed with what it asked for, routed to its function's queue when this worker
 * does not run its function, parked when bad or a duplicate, dropped when cancelled or a wake
 * marker; and nothing is left behind on the queue. A claim with no room leaves it to the
 * routing, which routes an entry asking for a group or a priority at once. And a Client entry
 * the steady path judges by taking its id out of `queued` (lib/client-entry.lua's take) and does
 * not take stays Client's: Client.get reads it QUEUED, Client.cancel cancels it, a park records
 * it on its task.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client } from '../src/index.js';
import { claim, claimArgs, claimKeys, parseClaim } from '../src/effects/queue.js';
import { runScript } from '../src/scripts.js';
import { claimAs, fnGroupsKey, keysFor, requestFor } from './properties/harness.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { pushEntries, seedEntry } from './helpers/order.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const W = '127.0.0.1:9';

/** one entry on an empty queue, then one claim by a worker of f and g with room for two (o: the swarm's options, a new swarm's by default) */
async function claimOne(entry: string, o = server.options()) {
  const keys = keysFor(o.keyPrefix);
  await pushEntries(redis, o.keyPrefix, [entry]);
  const reply = await claimAs(redis, keys, W, 2, 1 << 20, ['f', 'g']);
  expect(await redis.llen(keys.newQueue)).toBe(0);
  return { keys, reply };
}

describe('a claim of a queue one entry long', () => {
  it('claims a plain entry, written as claimed', async () => {
    const { keys, reply } = await claimOne(seedEntry('a', 'f'));
    expect(reply.claimed.map((t) => t.id)).toEqual(['a']);
    expect(await redis.hmget(keys.task('a'), 'state', 'worker', 'function')).toEqual(['RUNNING', W, 'f']);
  });

  it.each([
    ['a group', seedEntry('b', 'g', { group: 'tenant' }), { group: 'tenant' }],
    ['a priority', seedEntry('c', 'f', { priority: 7 }), { priority: '7' }],
    ['a manual end', JSON.stringify({ id: 'd', function: 'f', data: {}, manual_end: true }), { manual_end: '1' }],
  ])('claims an entry asking for %s, its hash holding what it asked', async (_, entry, asked) => {
    const id = (JSON.parse(entry) as { id: string }).id;
    const { keys, reply } = await claimOne(entry);
    expect(reply.claimed.map((t) => t.id)).toEqual([id]);
    const names = Object.keys(asked);
    expect(await redis.hmget(keys.task(id), 'state', ...names)).toEqual(['RUNNING', ...Object.values(asked)]);
  });

  it("routes an entry of a function it does not run to that function's queue", async () => {
    const { keys, reply } = await claimOne(seedEntry('e', 'h'));
    expect(reply.claimed).toEqual([]);
    expect(await redis.hget(keys.task('e'), 'state')).toBe('QUEUED');
    expect(await redis.exists(fnGroupsKey(keys, 'h'))).toBe(1);
  });

  it('parks a bad entry and a duplicate of a running task', async () => {
    const o = server.options();
    const bad = await claimOne('{"id":"x","function":', o);
    expect(bad.reply.claimed).toEqual([]);
    expect(bad.reply.parked.map((p) => p.reason)).toEqual(['bad_json']);
    const { reply: first } = await claimOne(seedEntry('r', 'f'), o);
    expect(first.claimed.map((t) => t.id)).toEqual(['r']);
    const dup = await claimOne(seedEntry('r', 'g'), o);
    expect(dup.reply.claimed).toEqual([]);
    expect(dup.reply.parked.map((p) => p.reason)).toEqual(['duplicate']);
    expect(await redis.hmget(dup.keys.task('r'), 'state', 'function')).toEqual(['RUNNING', 'f']);
  });

  it('drops an entry cancelled before it was routed, and a wake marker', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('f', { n: 1 });
    await c.cancel(id);
    const keys = keysFor(o.keyPrefix);
    const reply = await claimAs(redis, keys, W, 2, 1 << 20, ['f', 'g']);
    expect(reply.claimed).toEqual([]);
    expect(reply.parked).toEqual([]);
    expect(await redis.llen(keys.newQueue)).toBe(0);
    expect(await redis.hget(keys.task(id), 'state')).toBe('END');
    const wake = await claimOne('wake', o);
    expect(wake.reply.claimed).toEqual([]);
    expect(wake.reply.parked).toEqual([]);
  });
});

function client(o: ReturnType<RedisServer['options']>): Client {
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return c;
}

describe('a claim with no room, the queue one entry long', () => {
  it.each([
    ['a priority', seedEntry('p', 'f', { priority: 5 }), 'p', 'f', ['f']],
    ['a group', seedEntry('q', 'f', { group: 'tenant' }), 'q', 'f', ['f']],
    ['a priority, of a function only others run', seedEntry('r', 'h', { priority: 5 }), 'r', 'h', ['f', 'g']],
  ])("routes an entry asking for %s to its function's queue, as a window holding it is routed", async (_, entry, id, fn, functions) => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    await pushEntries(redis, o.keyPrefix, [entry]);
    const reply = await claim(redis, keys, { ...requestFor(W, 2, 1 << 20, functions), functions: functions.map((name) => ({ name, room: 0 })) });
    expect(reply.claimed).toEqual([]);
    expect(await redis.llen(keys.newQueue)).toBe(0);
    expect(await redis.hget(keys.task(id), 'state')).toBe('QUEUED');
    expect(await redis.exists(fnGroupsKey(keys, fn))).toBe(1);
  });
});

/** claim.lua run as finish-claim.lua runs it after ENDs that free no slot: asked to take none (claim() itself sends no such claim) */
async function claimNone(keys: ReturnType<typeof keysFor>) {
  const request = { ...requestFor(W, 0, 1 << 20, ['f']), functions: [{ name: 'f', room: 1 }] };
  return parseClaim(await runScript(redis, 'claim', claimKeys(keys, request), claimArgs(keys, request)));
}

describe('a claim asked to take none leaves the queue as it was', () => {
  it('the queue one entry long, a claim that may take none: the entry stays where it was', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    await pushEntries(redis, o.keyPrefix, [seedEntry('s', 'f')]);
    const reply = await claimNone(keys);
    expect(reply.claimed).toEqual([]);
    expect(await redis.lrange(keys.newQueue, 0, -1)).toEqual([seedEntry('s', 'f')]);
    expect((await claimAs(redis, keys, W, 1, 1 << 20, ['f'])).claimed.map((t) => t.id)).toEqual(['s']);
  });

  it('the queue two or more long: its entries left in their order, then taken oldest first', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const entries = ['t1', 't2', 't3'].map((id) => seedEntry(id, 'f'));
    await pushEntries(redis, o.keyPrefix, entries);
    const before = await redis.lrange(keys.newQueue, 0, -1);
    const none = await claimNone(keys);
    expect(none.claimed).toEqual([]);
    expect(await redis.lrange(keys.newQueue, 0, -1)).toEqual(before);
    const taken: string[] = [];
    for (let i = 0; i < 3; i++) taken.push(...(await claimAs(redis, keys, W, 1, 1 << 20, ['f'])).claimed.map((t) => t.id));
    expect(taken).toEqual(['t1', 't2', 't3']);
    expect(await redis.llen(keys.newQueue)).toBe(0);
  });
});

describe('a Client entry the steady claim judges and does not take', () => {
  it('of a function with no room here, the queue one entry long: stays Client\'s until routed, and is cancelled like any', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = client(o);
    const id = await c.submit('g', { n: 1 });
    const reply = await claim(redis, keys, { ...requestFor(W, 2, 1 << 20, ['f', 'g']), functions: [{ name: 'f', room: 1 }, { name: 'g', room: 0 }] });
    expect(reply.claimed).toEqual([]);
    expect(await redis.llen(keys.newQueue)).toBe(0);
    expect((await c.get(id))?.state).toBe('QUEUED');
    expect(await c.cancel(id)).toBe('cancelled');
    expect((await c.get(id))?.state).toBe('END');
    const later = await claimAs(redis, keys, '127.0.0.1:10', 1, 1 << 20, ['g']);
    expect(later.claimed).toEqual([]);
  });

  it('held by a running task: parked as a duplicate, the running task untouched, its id still in `queued` as Client left it', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = client(o);
    const id = await c.submit('f', { n: 1 });
    expect((await claimAs(redis, keys, W, 1, 1 << 20, ['f'])).claimed.map((t) => t.id)).toEqual([id]);
    // the same entry again, its id given back to `queued` (a resent submit written by hand)
    const raw = (await redis.hget(keys.task(id), 'data'))!;
    await redis.sadd(keys.queued, id);
    await pushEntries(redis, o.keyPrefix, [raw]);
    const reply = await claimAs(redis, keys, '127.0.0.1:10', 1, 1 << 20, ['f']);
    expect(reply.claimed).toEqual([]);
    expect(reply.parked.map((p) => p.reason)).toEqual(['duplicate']);
    expect(await redis.hmget(keys.task(id), 'state', 'worker')).toEqual(['RUNNING', W]);
    expect(await redis.sismember(keys.queued, id)).toBe(1);
  });

  it('too large for this worker, the queue one entry long: parked and recorded on its task, which Client.get reads parked', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = client(o);
    const id = await c.submit('f', { pad: 'x'.repeat(600) });
    const reply = await claimAs(redis, keys, W, 1, 300, ['f']);
    expect(reply.claimed).toEqual([]);
    expect(reply.parked.map((p) => p.reason)).toEqual(['too_large']);
    const info = await c.get(id);
    expect(info?.state).toBe('END');
    expect(info?.parked?.reason).toBe('too_large');
    expect(await redis.sismember(keys.queued, id)).toBe(0);
  });

  it('behind entries it took, on a known window: the first it cannot take is routed, still read QUEUED, and taken later by a worker with room', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = client(o);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await c.submit(i === 2 ? 'g' : 'f', { i }));
    const token = (n: number) => `tok-${n}`;
    // the first claim reads the window; the second takes from it what is known plain
    const first = await claim(redis, keys, { ...requestFor(W, 1, 1 << 20, ['f', 'g'], token(1)), functions: [{ name: 'f', room: 1 }, { name: 'g', room: 0 }] });
    expect(first.claimed.map((t) => t.id)).toEqual([ids[0]]);
    const second = await claim(redis, keys, { ...requestFor(W, 3, 1 << 20, ['f', 'g'], token(2)), functions: [{ name: 'f', room: 3 }, { name: 'g', room: 0 }] });
    expect(second.claimed.map((t) => t.id)).toEqual([ids[1], ids[3], ids[4]]);
    expect((await c.get(ids[2]!))?.state).toBe('QUEUED');
    expect(await redis.hget(keys.task(ids[2]!), 'function')).toBe('g');
    const g = await claimAs(redis, keys, '127.0.0.1:10', 1, 1 << 20, ['g']);
    expect(g.claimed.map((t) => t.id)).toEqual([ids[2]]);
  });
});
