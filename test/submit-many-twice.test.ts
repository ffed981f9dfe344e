/**
 * The same task twice in one submitMany is one submission, as `submit` made twice is: its id is
 * answered at each of its places, it is queued once and runs once. It was refused whole with a
 * DuplicateTaskError. One id given to two different tasks (other data, another delay, another
 * dedupe key) is still refused, and nothing of the list is written. Over several batches and
 * several partitions alike; and a PartlySubmittedError's `ids` still has one id per place given.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Logger } from 'tslog';
import { Client, DuplicateTaskError, PartlySubmittedError, Worker } from '../src/index.js';
import { redisPerFile } from './helpers/suite.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { partitionOf } from '../src/partitions.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s: RedisServer, r: Redis) => {
  server = s;
  redis = r;
});

function client(o: object): Client {
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return c;
}

describe('the same task twice in one submitMany', () => {
  it('is answered its id at both places, queued once, and runs once', async () => {
    const o = server.options();
    const runs: string[] = [];
    const w = new Worker({ port: 0, redis: o, logger: new Logger({ type: 'hidden' }) });
    w.addTaskFunction('count', async (task) => void runs.push(task.id));
    await w.start();
    cleanup.push(() => w.stop());
    const c = client(o);
    const twin = { fn: 'count', data: { n: 1 }, options: { id: 'twin' } };
    const ids = await c.submitMany([twin, { fn: 'count', data: 2 }, { ...twin }, { fn: 'count', data: 3, options: { id: 'other' } }]);
    expect(ids[0]).toBe('twin');
    expect(ids[2]).toBe('twin');
    expect(ids[3]).toBe('other');
    for (const id of new Set(ids)) await c.wait(id, { timeout: 5000 });
    await new Promise((r) => setTimeout(r, 200));
    expect(runs.filter((id) => id === 'twin')).toEqual(['twin']);
    expect(runs).toHaveLength(3);
  });

  it('delayed alike, or under one dedupe key, is one submission too', async () => {
    const c = client(server.options());
    const delayed = { fn: 'f', data: 1, options: { id: 'later', delay: 60_000 } };
    const keyed = { fn: 'f', data: 2, options: { id: 'keyed', key: 'k' } };
    expect(await c.submitMany([delayed, keyed, delayed, keyed])).toEqual(['later', 'keyed', 'later', 'keyed']);
    expect((await c.get('later'))?.state).toBe('DELAYED');
  });

  for (const [what, second] of [
    ['other data', { fn: 'f', data: 2, options: { id: 'same' } }],
    ['another function', { fn: 'g', data: 1, options: { id: 'same' } }],
    ['another delay', { fn: 'f', data: 1, options: { id: 'same', delay: 5000 } }],
    ['a dedupe key', { fn: 'f', data: 1, options: { id: 'same', key: 'k' } }],
    ['a priority', { fn: 'f', data: 1, options: { id: 'same', priority: 1 } }],
  ] as const) {
    it(`one id given to two tasks (${what}): refused, nothing written`, async () => {
      const c = client(server.options());
      const before = await redis.dbsize();
      await expect(c.submitMany([{ fn: 'f', data: 1, options: { id: 'same' } }, { fn: 'f', data: 0 }, second])).rejects.toBeInstanceOf(DuplicateTaskError);
      expect(await redis.dbsize()).toBe(before);
    });
  }

  it('over several batches: the twin in a later batch is answered, each task queued once', async () => {
    const o = server.options();
    const c = client(o);
    const tasks = Array.from({ length: 2500 }, (_, i) => ({ fn: 'f', data: i, options: { id: `t-${i}` } }));
    const ids = await c.submitMany([...tasks, tasks[3]!, tasks[1200]!]);
    expect(ids).toHaveLength(2502);
    expect(ids.slice(-2)).toEqual(['t-3', 't-1200']);
    expect(await redis.llen(`${o.keyPrefix}new-task`)).toBe(2500);
  });

  it('over partitions: each twin answered, each task queued once', async () => {
    const o = { ...server.options(), keyPrefix: `{tw${Date.now()}}:`, partitions: 3 };
    const c = client(o);
    const id = (p: number) => Array.from({ length: 200 }, (_, i) => `p-${i}`).find((x) => partitionOf(x, 3) === p)!;
    const list = [0, 1, 2].map((p) => ({ fn: 'f', data: p, options: { id: id(p) } }));
    const ids = await c.submitMany([...list, ...list.slice().reverse()]);
    expect(ids).toEqual([id(0), id(1), id(2), id(2), id(1), id(0)]);
    for (const p of [0, 1, 2]) expect((await c.get(id(p)))?.state).toBe('QUEUED');
  });

  it('failed after part of it ran: PartlySubmittedError.ids has an id per place given, the twins alike', async () => {
    const o = server.options();
    const c = client(o);
    await c.submit('f', 'warm-up');
    const admin = redis;
    // (the first batch runs; the second is refused for memory)
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
    await admin.config('SET', 'maxmemory', String(used + 3 * 1024 * 1024));
    cleanup.push(() => admin.config('SET', 'maxmemory', '0').then(() => undefined));
    const tasks = Array.from({ length: 2500 }, (_, i) => ({ fn: 'f', data: { i, pad: 'x'.repeat(2000) }, options: { id: `m-${i}` } }));
    const e = await c.submitMany([tasks[0]!, ...tasks, tasks[2000]!]).then(
      () => undefined,
      (x: unknown) => x,
    );
    await admin.config('SET', 'maxmemory', '0');
    expect(e).toBeInstanceOf(PartlySubmittedError);
    const p = e as PartlySubmittedError;
    expect(p.ids).toHaveLength(2502);
    expect(p.ids[0]).toBe('m-0');
    expect(p.ids[1]).toBe('m-0');
    expect(p.ids.at(-1)).toBe('m-2000');
    expect(p.submitted).toContain('m-0');
    expect(p.notSubmitted).toContain('m-2000');
    await until(async () => (await c.get('m-0')) !== undefined, 'm-0 is held');
  });
});
