/**
 * A retry keeps the place its task had; one whose hash holds none (re-asserted by its worker
 * after Redis lost it) is placed at its due time, as a delayed task is: its priority counts as it
 * does in the queue (score = due - priority x 1000). So among tasks of one function, group and
 * priority, one submitted after the retry fell due does not start before it.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { claim, finishAndClaim } from '../src/effects/queue.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor, requestFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe('a retry of a task with a priority, its hash holding no place', () => {
  it('starts before a task of the same priority submitted after it fell due', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const a = await c.submit('f', { a: 1 }, { priority: 5, attempts: 2 });
    const [first] = (await claim(redis, keys, requestFor('w:1', 1, 1 << 20, ['f']))).claimed;
    expect(first?.id).toBe(a);
    // (its place lost with Redis's data, the hash re-asserted from the worker's memory)
    await redis.hdel(keys.task(a), 'member', 'score');
    await finishAndClaim(redis, keys, [{ id: a, lease: first!.lease, outcome: 'retry:200', payloadJson: '{"message":"boom"}' }], requestFor('w:1', 0, 1 << 20, ['f']));
    expect(await redis.hget(keys.task(a), 'state')).toBe('DELAYED');
    await new Promise((r) => setTimeout(r, 400));
    const b = await c.submit('f', { b: 1 }, { priority: 5 });
    const r = await claim(redis, keys, requestFor('w:1', 1, 1 << 20, ['f']));
    expect(r.claimed.map((t) => t.id), `b is ${b}`).toEqual([a]);
  });
});
