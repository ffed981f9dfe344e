/**
 * Client.submit's calls made in one tick go to Redis in one submit.lua call (mode `each`), yet
 * each is what it would be alone: a taken id refuses only its own submit, a dedupe key held by
 * an earlier submit of the same tick answers that task's id, bad input rejects only its call,
 * the tasks are queued in the order the calls were made, and a close() right after submits it
 * did not wait for still lets them be queued.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, ConfigError, DuplicateTaskError, InvalidTaskError } from '../src/index.js';
import { partitionPrefix } from '../src/partitions.js';
import { keysFor } from './properties/harness.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

/** a client on a swarm of its own (each call of server.options() names a new key prefix) */
function client(extra: Record<string, unknown> = {}) {
  const o = { ...server.options(), ...extra } as ReturnType<RedisServer['options']>;
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return { c, prefix: o.keyPrefix };
}

/** the ids on new-task, oldest (next to be claimed) first (wake markers, which placed tasks push, left out) */
async function queuedIds(keyPrefix: string): Promise<string[]> {
  const entries = await redis.lrange(keysFor(keyPrefix).newQueue, 0, -1);
  return entries
    .reverse()
    .filter((e) => e !== 'wake')
    .map((e) => (JSON.parse(e) as { id: string }).id);
}

describe('submits made in one tick', () => {
  it('a taken id refuses only its own submit; the others are queued, in the order they were made', async () => {
    const { c, prefix } = client();
    await c.submit('f', 'first', { id: 'taken' });
    const calls = [c.submit('f', 1, { id: 'a' }), c.submit('f', 'again', { id: 'taken' }), c.submit('f', 2, { id: 'b' }), c.submit('f', 3)];
    const settled = await Promise.allSettled(calls);
    expect(settled[0]).toEqual({ status: 'fulfilled', value: 'a' });
    expect(settled[1]).toMatchObject({ status: 'rejected', reason: expect.any(DuplicateTaskError) });
    expect(settled[2]).toEqual({ status: 'fulfilled', value: 'b' });
    const generated = (settled[3] as PromiseFulfilledResult<string>).value;
    expect(await queuedIds(prefix)).toEqual(['taken', 'a', 'b', generated]);
  });

  it('the same id twice: the second is refused, unless it is the very same entry (then both answer the id, queued once)', async () => {
    const { c, prefix } = client();
    const [x, y] = await Promise.allSettled([c.submit('f', 1, { id: 'twice' }), c.submit('f', 2, { id: 'twice' })]);
    expect(x).toEqual({ status: 'fulfilled', value: 'twice' });
    expect(y).toMatchObject({ status: 'rejected', reason: expect.any(DuplicateTaskError) });
    const same = await Promise.all([c.submit('f', 1, { id: 'same' }), c.submit('f', 1, { id: 'same' })]);
    expect(same).toEqual(['same', 'same']);
    expect((await queuedIds(prefix)).filter((id) => id === 'same')).toHaveLength(1);
  });

  it('a dedupe key held by an earlier submit of the same tick answers that task, and queues nothing more', async () => {
    const { c } = client();
    const ids = await Promise.all([c.submit('f', 1, { key: 'k' }), c.submit('f', 2, { key: 'k' }), c.submit('f', 3, { key: 'other' })]);
    expect(ids[1]).toBe(ids[0]);
    expect(ids[2]).not.toBe(ids[0]);
    expect(await c.get(ids[0]!)).toMatchObject({ state: 'QUEUED' });
  });

  it('bad input rejects only its own call, at once; the rest of the tick is queued', async () => {
    const { c, prefix } = client();
    const calls = [c.submit('f', 1, { id: 'ok-1' }), c.submit('', 2), c.submit('f', 3, { priority: 5000 }), c.submit('f', 4, { id: 'ok-2' })];
    const settled = await Promise.allSettled(calls);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(InvalidTaskError);
    expect((settled[2] as PromiseRejectedResult).reason).toBeInstanceOf(ConfigError);
    expect(await queuedIds(prefix)).toEqual(['ok-1', 'ok-2']);
  });

  it('more than one call holds (2,500 in one tick, some placed with a priority): every one queued, each where it belongs', async () => {
    const { c, prefix } = client();
    const ids = await Promise.all(Array.from({ length: 2500 }, (_, i) => c.submit('f', i, i % 10 === 0 ? { priority: 1 } : {})));
    expect(new Set(ids).size).toBe(2500);
    const plain = ids.filter((_, i) => i % 10 !== 0);
    expect(await queuedIds(prefix)).toEqual(plain);
    for (const id of ids.filter((_, i) => i % 10 === 0).slice(0, 20)) expect(await c.get(id)).toMatchObject({ state: 'QUEUED' });
  });

  it('large tasks submitted together go in several calls (at most about 1 MiB of tasks each), every one queued in order', async () => {
    const { c, prefix } = client();
    await c.get('warm-up');
    const fcalls = async () => Number(/cmdstat_fcall:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
    const before = await fcalls();
    const big = 'x'.repeat(300_000);
    const ids = await Promise.all(Array.from({ length: 8 }, (_, i) => c.submit('f', { i, big })));
    // 8 tasks of 300 KB: three to a call at most
    expect((await fcalls()) - before).toBeGreaterThanOrEqual(3);
    expect(await queuedIds(prefix)).toEqual(ids);
  });

  it('close() right after submits it did not wait for: they are queued, and each resolves with its id', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    const calls = Array.from({ length: 50 }, (_, i) => c.submit('f', i, { id: `late-${i}` }));
    await c.close();
    expect(await Promise.all(calls)).toEqual(calls.map((_, i) => `late-${i}`));
    expect(await queuedIds(o.keyPrefix)).toEqual(calls.map((_, i) => `late-${i}`));
  });

  it('over several partitions, each task goes to its own, in the order made within it', async () => {
    const { c } = client({ keyPrefix: '{coalesce}:', partitions: 4 });
    const ids = await Promise.all(Array.from({ length: 40 }, (_, i) => c.submit('f', i)));
    const found: string[] = [];
    for (let p = 0; p < 4; p++) {
      const inPart = await queuedIds(partitionPrefix('{coalesce}:', p, 4));
      expect(inPart).toEqual(ids.filter((id) => inPart.includes(id)));
      found.push(...inPart);
    }
    expect(found.sort()).toEqual([...ids].sort());
  });
});
