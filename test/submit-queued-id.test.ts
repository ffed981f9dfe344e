/**
 * A submit of an id still waiting on the ingress (in `queued`, no hash yet) is refused and
 * writes nothing, however the call reaches submit.lua: a lone submit, several of one tick (the
 * `each` mode: only its own task refused), a submitMany of one, and a submitMany of several (all
 * or nothing: the others are not written either). A lone task of the seed's kind is asked of
 * `queued` by its write (SADD's answer), the others before anything is written (SISMEMBER):
 * both must refuse alike.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, DuplicateTaskError } from '../src/index.js';
import { keysFor } from './properties/harness.js';
import { taskData } from '../src/wire.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

/** a client, and the id `held` submitted with it, left on the ingress (no worker runs) */
async function withQueued(held: string) {
  const o = server.options();
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  await c.submit('f', 'first', { id: held });
  const keys = keysFor(o.keyPrefix);
  // (data as a worker reads it: a string is stored as its JSON text)
  const ingress = async () =>
    (await redis.lrange(keys.newQueue, 0, -1)).reverse().map((e) => {
      const entry = JSON.parse(e) as { id: string; data: unknown };
      return { ...entry, data: taskData(entry) };
    });
  return { c, keys, ingress };
}

describe('a submit of an id still on the ingress', () => {
  it('alone: refused, the first entry left as it was', async () => {
    const { c, ingress } = await withQueued('held');
    await expect(c.submit('f', 'second', { id: 'held' })).rejects.toBeInstanceOf(DuplicateTaskError);
    expect(await ingress()).toEqual([{ id: 'held', function: 'f', data: 'first' }]);
  });

  it('among other submits of its tick: only it is refused', async () => {
    const { c, ingress } = await withQueued('held');
    const [a, b, d] = await Promise.allSettled([c.submit('f', 1, { id: 'a' }), c.submit('f', 'second', { id: 'held' }), c.submit('f', 2, { id: 'b' })]);
    expect(a).toEqual({ status: 'fulfilled', value: 'a' });
    expect(b).toMatchObject({ status: 'rejected', reason: expect.any(DuplicateTaskError) });
    expect(d).toEqual({ status: 'fulfilled', value: 'b' });
    expect((await ingress()).map((e) => [e.id, e.data])).toEqual([['held', 'first'], ['a', 1], ['b', 2]]);
  });

  it('a submitMany of it alone: refused, nothing written', async () => {
    const { c, ingress, keys } = await withQueued('held');
    await expect(c.submitMany([{ fn: 'f', data: 'second', options: { id: 'held' } }])).rejects.toBeInstanceOf(DuplicateTaskError);
    expect(await ingress()).toEqual([{ id: 'held', function: 'f', data: 'first' }]);
    expect(await redis.smembers(keys.queued)).toEqual(['held']);
  });

  it('a submitMany holding it among free ids: refused whole, none of the batch written', async () => {
    const { c, ingress, keys } = await withQueued('held');
    await expect(
      c.submitMany([
        { fn: 'f', data: 1, options: { id: 'x' } },
        { fn: 'f', data: 'second', options: { id: 'held' } },
        { fn: 'f', data: 2, options: { id: 'y' } },
      ]),
    ).rejects.toBeInstanceOf(DuplicateTaskError);
    expect(await ingress()).toEqual([{ id: 'held', function: 'f', data: 'first' }]);
    expect(await redis.smembers(keys.queued)).toEqual(['held']);
  });
});
