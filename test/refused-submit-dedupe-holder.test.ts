/**
 * Client.submit's calls of one tick go to Redis in one submit.lua call (mode `each`: each task
 * stands or falls alone). Two of them with one dedupe key: the second is answered with the
 * first's id, as the holder of the key. When Redis refused the first's write (a key of its
 * function's queue damaged by hand: WRONGTYPE), the second still resolved with the first's id, a
 * task never made (`get` answers null, `wait` waits for good). The key was free: the second is
 * then a submit of its own, as it would have been sent a moment later.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, DuplicateTaskError } from '../src/index.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

function swarm() {
  const o = server.options();
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return { c, keys: keysFor(o.keyPrefix) };
}

describe('submits of one tick with one dedupe key, the first refused', () => {
  it('the second is not answered with the id of a task never made: it is queued itself', async () => {
    const { c, keys } = swarm();
    await redis.set(keys.functionQueue('fg', 'groups'), 'not a sorted set');
    const [first, second] = await Promise.allSettled([
      c.submit('fg', 1, { id: 'k-1', group: 'g', key: 'once' }),
      c.submit('fa', 2, { id: 'k-2', key: 'once' }),
    ]);
    expect(first.status).toBe('rejected');
    expect(String((first as PromiseRejectedResult).reason)).toMatch(/WRONGTYPE/);
    expect(await c.get('k-1')).toBeNull();
    expect(second).toEqual({ status: 'fulfilled', value: 'k-2' });
    expect((await c.get('k-2'))?.state).toBe('QUEUED');
    // it holds the key now
    await redis.del(keys.functionQueue('fg', 'groups'));
    await expect(c.submit('fg', 1, { id: 'k-3', group: 'g', key: 'once' })).resolves.toBe('k-2');
  });

  it("the second's id taken: it is refused as a duplicate, as a submit of its own would be", async () => {
    const { c, keys } = swarm();
    await c.submit('fa', 'before', { id: 'taken-1' });
    await redis.set(keys.functionQueue('fd', 'groups'), 'not a sorted set');
    const [first, second] = await Promise.allSettled([
      c.submit('fd', 1, { id: 'd-1', group: 'g', key: 'dup' }),
      c.submit('fa', 2, { id: 'taken-1', key: 'dup' }),
    ]);
    expect(String((first as PromiseRejectedResult).reason)).toMatch(/WRONGTYPE/);
    expect(second.status).toBe('rejected');
    expect((second as PromiseRejectedResult).reason).toBeInstanceOf(DuplicateTaskError);
    expect(await redis.hget(keys.task('taken-1'), 'key')).toBeNull();
  });

  it('both refused: each is told the refusal, neither a task never made', async () => {
    const { c, keys } = swarm();
    await redis.set(keys.functionQueue('fh', 'groups'), 'not a sorted set');
    const settled = await Promise.allSettled([
      c.submit('fh', 1, { id: 'b-1', group: 'g', key: 'both' }),
      c.submit('fh', 2, { id: 'b-2', group: 'g', key: 'both' }),
      c.submit('fh', 3, { id: 'b-3', group: 'g', key: 'both' }),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'rejected']);
    for (const s of settled) expect(String((s as PromiseRejectedResult).reason)).toMatch(/WRONGTYPE/);
    await redis.del(keys.functionQueue('fh', 'groups'));
    await expect(c.submit('fh', 1, { id: 'b-4', group: 'g', key: 'both' })).resolves.toBe('b-4');
  });
});
