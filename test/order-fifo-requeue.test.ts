/**
 * FIFO within one function, one priority and one group (issue 9) holds across a hand-back and a
 * requeue: a task that went back to the queue (its worker stopped past its grace, or died) goes
 * back to its place, ahead of what was queued after it, not to the back. Whether it had been
 * claimed on the seed's fast path (straight from new-task) or from its function's structure.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Monitor, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { spawnWorker } from './helpers/processes.js';
import { pushEntries, quiet, recorder, recordingWorker, seedEntry } from './helpers/order.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const LATER = ['b', 'c', 'd', 'e'];

/** a worker of concurrency 1 whose f runs until it is aborted: it holds what it claims */
async function holdingWorker(o: Record<string, unknown>): Promise<{ w: Worker; held: string[] }> {
  const held: string[] = [];
  const w = new Worker({ port: 0, redis: o, logger: quiet, concurrency: 1, stopGrace: 100 });
  w.addTaskFunction('f', (t) => {
    held.push(t.id);
    return new Promise((resolve) => t.signal.addEventListener('abort', resolve));
  });
  cleanup.push(() => w.stop());
  await w.start();
  return { w, held };
}

/** a worker of concurrency 1 for `fn` then starts them in their order */
async function order(o: Record<string, unknown>, fn: string, n: number): Promise<string[]> {
  const rec = recorder();
  const w = recordingWorker(o, fn, rec);
  cleanup.push(() => w.stop());
  await w.start();
  await rec.started(n);
  return rec.ids();
}

describe('a task handed back by a worker that stops (past its stopGrace)', () => {
  it('claimed on the fast path, with later tasks of its group and priority routed in the same claim: it is started again before them', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const { w, held } = await holdingWorker(o);
    // one push while the worker waits: its claim takes 'a' at once and routes the others behind it
    await pushEntries(redis, o.keyPrefix, ['a', ...LATER].map((id) => seedEntry(id, 'f', { group: 'G', priority: 3 })));
    await until(() => held.length === 1, 'a claimed');
    expect(held).toEqual(['a']);
    expect(await redis.hget(keys.task('b'), 'state')).toBe('QUEUED');
    await w.stop();
    expect(await c.get('a')).toMatchObject({ state: 'QUEUED' });
    expect(await order(o, 'f', 5)).toEqual(['a', ...LATER]);
  });

  it('claimed from its function\'s structure: it is started again before what was queued after it', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    // routed (by another function's worker) before any worker of f exists
    const router = new Worker({ port: 0, redis: o, logger: quiet });
    router.addTaskFunction('other', () => null);
    cleanup.push(() => router.stop());
    await router.start();
    for (const id of ['a', ...LATER]) await c.submit('f', null, { id });
    await until(async () => (await c.stats()).functions.f?.queued === 5, 'routed');
    const { w, held } = await holdingWorker(o);
    await until(() => held.length === 1, 'a claimed');
    expect(held).toEqual(['a']);
    expect(await redis.hget(keys.task('a'), 'state')).toBe('RUNNING');
    await w.stop();
    expect(await order(o, 'f', 5)).toEqual(['a', ...LATER]);
  });
});

describe('a task requeued after its worker died (SIGKILL)', () => {
  it('claimed on the fast path, with later tasks routed in the same claim: it is started again before them', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const child = await spawnWorker({ port: 0, redis: o, concurrency: 1, heartbeatInterval: 200 });
    cleanup.push(() => child.kill('SIGKILL'));
    await child.waitFor(/^READY /);
    await pushEntries(
      redis,
      o.keyPrefix,
      // (one entry that names a priority, 0 as all have, so that the claim routes the whole window
      // rather than entry by entry: the later tasks are routed in the same claim as a)
      ['a', ...LATER].map((id, i) => JSON.stringify({ id, function: 'sleep', data: { ms: 60_000 }, ...(i === LATER.length ? { priority: 0 } : {}) })),
    );
    await child.waitFor(/^STARTED a 1$/);
    expect(await redis.hget(keys.task('b'), 'state')).toBe('QUEUED');
    await child.kill('SIGKILL');
    const m = new Monitor({ redis: o, taskTimeout: 1000, checkTaskInterval: 100, logger: quiet });
    cleanup.push(() => m.stop());
    await m.start();
    await until(async () => (await c.get('a'))?.state === 'QUEUED', 'a requeued', 10_000);
    expect(await order(o, 'sleep', 5)).toEqual(['a', ...LATER]);
  });
});
