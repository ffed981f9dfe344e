/**
 * An idle worker woken by one entry (the pickup): the queue one entry long is the whole window,
 * so the claim takes it on its steady path without knowing anything of the queue first
 * (claim.lua). Whatever that one entry is, it is handled as the routing of a window would
 * handle it: claimed with what it asked for, routed to its function's queue when this worker
 * does not run its function, parked when bad or a duplicate, dropped when cancelled or a wake
 * marker; and nothing is left behind on the queue.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client } from '../src/index.js';
import { claim } from '../src/effects/queue.js';
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

  it("routes a Client entry of a function with no room here to its function's queue, still Client's: read QUEUED, claimed by a worker with room", async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('g', { n: 1 });
    const full = await claim(redis, keys, { ...requestFor(W, 2, 1 << 20, ['f', 'g']), functions: [{ name: 'f', room: 2 }, { name: 'g', room: 0 }] });
    expect(full.claimed).toEqual([]);
    expect(await redis.llen(keys.newQueue)).toBe(0);
    expect((await c.get(id))?.state).toBe('QUEUED');
    const other = await claimAs(redis, keys, '127.0.0.1:10', 1, 1 << 20, ['g']);
    expect(other.claimed.map((t) => t.id)).toEqual([id]);
    expect(await redis.sismember(keys.queued, id)).toBe(0);
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
