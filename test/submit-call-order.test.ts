/**
 * A Client's calls reach Redis in the order they were made, its submits included, though a
 * tick's submits wait for its end to go out together and their script is then written at once
 * (not held for ioredis's auto-pipeline, src/scripts.ts `unbatched`). Each case failed before:
 *
 * - a cancel, then a submit (neither awaited): the cancel's script waited in the auto-pipeline
 *   for the end of the event-loop turn, the submit's was written past it, and found the dedupe
 *   key the cancel frees still held (it answered the cancelled task's id, and queued nothing);
 * - a submit, then a cancel or a get of its id: the submit waited for the end of the tick (and,
 *   on a client's first calls, for its checks), the cancel did not (TaskNotFoundError);
 * - a submitMany of several batches, then a submit: each batch waits for the answer to the one
 *   before, and the submit went out between them, its task queued before the later batches'.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client } from '../src/index.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

function client(extra: Record<string, unknown> = {}) {
  const o = { ...server.options(), ...extra } as ReturnType<RedisServer['options']>;
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return { c, prefix: o.keyPrefix };
}

describe('a submit made after another call of the same client, neither awaited', () => {
  it('cancel of a dedupe key\'s holder, then a submit with that key: the key is free, a new task is queued', async () => {
    const { c } = client();
    const old = await c.submit('f', 'old', { key: 'k' });
    // (neither awaited: the cancel's script is made first)
    const [cancelled, fresh] = await Promise.all([c.cancel(old), c.submit('f', 'new', { key: 'k' })]);
    expect(cancelled).toBe('cancelled');
    expect(fresh).not.toBe(old);
    expect(await c.get(fresh)).toMatchObject({ state: 'QUEUED' });
  });

  it('a submit, then a cancel of its id: the task is cancelled, not unknown', async () => {
    const { c } = client();
    await c.submit('f', 0);
    const [id, cancelled] = await Promise.allSettled([c.submit('f', 1, { id: 'x' }), c.cancel('x')]);
    expect(id).toEqual({ status: 'fulfilled', value: 'x' });
    expect(cancelled).toEqual({ status: 'fulfilled', value: 'cancelled' });
  });

  it('the same on a client\'s first calls (not yet ready), and over several partitions', async () => {
    for (const extra of [{}, { partitions: 3, keyPrefix: `{ord${Date.now()}}:` }]) {
      const { c } = client(extra);
      const [id, cancelled, info] = await Promise.allSettled([c.submit('f', 1, { id: 'y' }), c.cancel('y'), c.get('y')]);
      expect(id).toEqual({ status: 'fulfilled', value: 'y' });
      expect(cancelled).toEqual({ status: 'fulfilled', value: 'cancelled' });
      expect(info).toMatchObject({ status: 'fulfilled', value: { id: 'y' } });
      await c.close();
    }
  });

  it('a submitMany of several batches, then a submit: the submit\'s task is queued after all of them', async () => {
    const { c, prefix } = client();
    await c.submit('f', 0);
    const many = Array.from({ length: 1500 }, (_, i) => ({ fn: 'f', data: i }));
    const [ids, last] = await Promise.all([c.submitMany(many), c.submit('f', 'last')]);
    const queued = (await redis.lrange(keysFor(prefix).newQueue, 0, -1)).reverse().map((e) => (JSON.parse(e) as { id: string }).id);
    expect(queued.slice(1)).toEqual([...ids, last]);
  });

  it('the same when Redis has lost the function library (each call loads it again, and is sent again, in order)', async () => {
    const { c } = client();
    const old = await c.submit('f', 'old', { key: 'lost' });
    await redis.function('FLUSH');
    const [cancelled, fresh] = await Promise.all([c.cancel(old), c.submit('f', 'new', { key: 'lost' })]);
    expect(cancelled).toBe('cancelled');
    expect(fresh).not.toBe(old);
    await redis.function('FLUSH');
    const [id, again] = await Promise.allSettled([c.submit('f', 1, { id: 'z' }), c.cancel('z')]);
    expect(id).toEqual({ status: 'fulfilled', value: 'z' });
    expect(again).toEqual({ status: 'fulfilled', value: 'cancelled' });
    expect(await c.get(fresh)).toMatchObject({ state: 'QUEUED' });
  });
});
