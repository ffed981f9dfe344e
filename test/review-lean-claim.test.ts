/**
 * A claim that takes the ingress's right end entry by entry (a worker whose functions have
 * nothing queued, the swarm calm, the window known plain) and stops at an entry it cannot take at
 * once (a function it does not run, a held id, a bad entry) goes on from that entry as one
 * entry-by-entry claim: it handles no more than one window of entries in all, routes nothing it
 * would not have routed, and takes what a claim of the general routing takes, in the same order.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { claim, type ClaimRequest } from '../src/effects/queue.js';
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
