/**
 * A claim that takes the ingress's right end entry by entry (a worker whose functions have
 * nothing queued, the swarm calm, the window known plain) and stops at an entry it cannot take at
 * once (a function it does not run, a held id, a bad entry) goes on from that entry as one
 * entry-by-entry claim: it handles no more than one window of entries in all, routes nothing it
 * would not have routed, and takes what a claim of the general routing takes, in the same order.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { cancelTask, claim, submit, type ClaimRequest } from '../src/effects/queue.js';
import { keysFor } from './properties/harness.js';
import { redisPerFile } from './helpers/suite.js';

let redis: Redis;
redisPerFile((_s, r) => {
  redis = r;
});

const MAX_BYTES = 1 << 20;
let n = 0;
const fresh = () => keysFor(`lean${++n}:`);

function request(rooms: Record<string, number>, max: number, token = ''): ClaimRequest {
  return { worker: 'w1:1', max, maxPayloadBytes: MAX_BYTES, functions: Object.entries(rooms).map(([name, room]) => ({ name, room })), rotation: 0, token, acks: [] };
}

/** a seed entry of no group and no priority */
const entry = (id: string, fn: string) => JSON.stringify({ id, function: fn, data: null });

/** LPUSH entries oldest first: the first given is the first at the right end */
async function push(q: string, entries: string[]): Promise<void> {
  for (const e of entries) await redis.lpush(q, e);
}

describe('a claim that stops taking the right end at once', () => {
  it('stays entry by entry: an entry with a group beyond its window is neither routed nor taken out of turn', async () => {
    const keys = fresh();
    const q = keys.newQueue;
    // right end: p0, a1, c1 (a function this worker does not run), a2..a63, then ag (group g)
    const plain = [entry('p0', 'a'), entry('a1', 'a'), entry('c1', 'c'), ...Array.from({ length: 62 }, (_, i) => entry(`a${i + 2}`, 'a'))];
    await push(q, [...plain, JSON.stringify({ id: 'ag', function: 'a', data: 1, group: 'g' })]);
    // a first claim of one task learns the 65 entries at the right end plain: after it, a1..a63,
    // a whole window of the next claim (64 entries: it may take 5)
    const first = await claim(redis, keys, request({ a: 1 }, 1));
    expect(first.claimed.map((t) => t.id)).toEqual(['p0']);
    // the next claim: room for 5 of `a`; c1 is for others
    const second = await claim(redis, keys, request({ a: 5 }, 5));
    expect(second.claimed.map((t) => t.id)).toEqual(['a1', 'a2', 'a3', 'a4', 'a5']);
    // c1 routed to its function; a6..a63 and ag still on the ingress, in order
    expect(await redis.hget(keys.task('c1'), 'state')).toBe('QUEUED');
    expect(await redis.exists(keys.task('a6'), keys.task('ag'))).toBe(0);
    const left = await redis.lrange(q, 0, -1);
    expect(left.map((e) => (JSON.parse(e) as { id: string }).id)).toEqual(['ag', ...Array.from({ length: 58 }, (_, i) => `a${63 - i}`)]);
  });
});

/** ids of a list's entries, right end first */
async function ingress(q: string): Promise<string[]> {
  return (await redis.lrange(q, 0, -1)).reverse().map((e) => (e === 'wake' ? 'wake' : ((JSON.parse(e) as { id?: string }).id ?? '?')));
}

/** the keys learn their window: a claim of one task of `a` first (p0) */
async function warmed(entries: string[]) {
  const keys = fresh();
  await push(keys.newQueue, [entry('p0', 'a'), ...entries]);
  expect((await claim(redis, keys, request({ a: 1 }, 1))).claimed.map((t) => t.id)).toEqual(['p0']);
  return keys;
}

describe('a claim handles one window of entries at most', () => {
  it('the entries it takes at once before one it cannot take count in its window', async () => {
    const keys = fresh();
    const cs = Array.from({ length: 100 }, (_, i) => entry(`c${i + 1}`, 'c'));
    await push(keys.newQueue, [entry('p0', 'a'), entry('a1', 'a'), entry('a2', 'a'), ...cs]);
    expect((await claim(redis, keys, request({ a: 1 }, 1))).claimed.map((t) => t.id)).toEqual(['p0']);
    // window 64: a1, a2 taken, c1..c62 routed to `c` (run by no one here), c63.. left in order
    const r = await claim(redis, keys, request({ a: 5 }, 5));
    expect(r.claimed.map((t) => t.id)).toEqual(['a1', 'a2']);
    expect(await redis.hget(keys.task('c62'), 'state')).toBe('QUEUED');
    expect(await redis.exists(keys.task('c63'))).toBe(0);
    expect(await ingress(keys.newQueue)).toEqual(Array.from({ length: 38 }, (_, i) => `c${i + 63}`));
  });
});

describe('the steady claim, entry by entry, with what it cannot take at once in its window', () => {
  it('a bad entry, a too large one and a wake marker between good ones: parked or dropped in their turn, the good ones taken in order', async () => {
    const keys = await warmed([entry('a1', 'a'), '{bad', 'wake', JSON.stringify({ id: 'a2', function: 'a', data: 'x'.repeat(2000) }), entry('a3', 'a'), entry('a4', 'a')]);
    const r = await claim(redis, keys, { ...request({ a: 2 }, 2), maxPayloadBytes: 1000 });
    expect(r.claimed.map((t) => t.id)).toEqual(['a1', 'a3']);
    expect(r.parked.map((p) => p.reason)).toEqual(['bad_json', 'too_large']);
    expect(await ingress(keys.newQueue)).toEqual(['a4']);
  });

  it('an id another task holds, mid-window: parked as a duplicate, the held task untouched, the next entry taken', async () => {
    const keys = await warmed([entry('a1', 'a'), entry('p0', 'a'), entry('a2', 'a'), entry('a3', 'a')]);
    const before = await redis.hgetall(keys.task('p0'));
    const r = await claim(redis, keys, request({ a: 2 }, 2));
    expect(r.claimed.map((t) => t.id)).toEqual(['a1', 'a2']);
    expect(r.parked.map((p) => p.reason)).toEqual(['duplicate']);
    expect(await redis.hgetall(keys.task('p0'))).toEqual(before);
    expect(await ingress(keys.newQueue)).toEqual(['a3']);
  });

  it('an entry cancelled before it was routed, mid-window: dropped, neither run nor parked', async () => {
    const keys = await warmed([entry('a1', 'a')]);
    expect(await submit(redis, keys, 'x1', entry('x1', 'a'))).toBe(true);
    expect(await cancelTask(redis, keys, 'x1')).toBe('cancelled');
    await push(keys.newQueue, [entry('a2', 'a')]);
    const r = await claim(redis, keys, request({ a: 3 }, 3));
    expect(r.claimed.map((t) => t.id)).toEqual(['a1', 'a2']);
    expect(r.parked).toEqual([]);
    expect(await redis.hget(keys.task('x1'), 'state')).toBe('END');
    expect(await redis.lrange(keys.ended, 0, -1)).toContain('x1');
  });

  it('a worker of two functions whose room ends mid-window: each takes its room in ingress order, an entry without room is queued for its function, the rest stays', async () => {
    const keys = await warmed([entry('a1', 'a'), entry('b1', 'b'), entry('a2', 'a'), entry('c1', 'c'), entry('b2', 'b'), entry('b3', 'b'), entry('a3', 'a')]);
    const r = await claim(redis, keys, request({ a: 1, b: 2 }, 5));
    expect(r.claimed.map((t) => t.id)).toEqual(['a1', 'b1', 'b2']);
    expect(await redis.hget(keys.task('a2'), 'state')).toBe('QUEUED');
    expect(await redis.hget(keys.task('c1'), 'state')).toBe('QUEUED');
    expect(await ingress(keys.newQueue)).toEqual(['b3', 'a3']);
    // the next claim of `a` takes a2 (queued first) before a3
    expect((await claim(redis, keys, request({ a: 2 }, 2))).claimed.map((t) => t.id)).toEqual(['a2', 'a3']);
  });

  it('its reply sent again under the same token answers the same tasks, and takes nothing more', async () => {
    const keys = await warmed([entry('a1', 'a'), entry('a2', 'a'), entry('a3', 'a')]);
    const r = await claim(redis, keys, request({ a: 2 }, 2, 'tok'));
    expect(r.claimed.map((t) => t.id)).toEqual(['a1', 'a2']);
    expect(r.receipt).toBe(true);
    const again = await claim(redis, keys, request({ a: 2 }, 2, 'tok'));
    expect(again.claimed).toEqual(r.claimed);
    expect(await ingress(keys.newQueue)).toEqual(['a3']);
  });

  it('the right end replaced by hand since the window was learnt: the new entry is judged as any (its group taken into account)', async () => {
    const keys = await warmed([entry('a1', 'a'), entry('a2', 'a'), entry('a3', 'a')]);
    await redis.lset(keys.newQueue, -1, JSON.stringify({ id: 'ag', function: 'a', data: 1, group: 'g' }));
    await redis.rpush(keys.newQueue, '{bad');
    const r = await claim(redis, keys, request({ a: 2 }, 2));
    expect(r.parked.map((p) => p.reason)).toEqual(['bad_json']);
    expect(r.claimed.map((t) => t.id).sort()).toEqual(['a2', 'ag']);
    expect(await redis.hget(keys.task('ag'), 'group')).toBe('g');
  });

  it('max larger than the queue, the queue shorter than the window: takes it all and answers', async () => {
    const keys = await warmed([entry('a1', 'a'), 'wake', entry('b1', 'b'), entry('a2', 'a')]);
    const r = await claim(redis, keys, request({ a: 50, b: 50 }, 50));
    expect(r.claimed.map((t) => t.id)).toEqual(['a1', 'b1', 'a2']);
    expect(await redis.llen(keys.newQueue)).toBe(0);
  });
});
