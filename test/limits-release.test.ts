/**
 * Limited slots come back whichever way a live worker stops running a task (issue 9): a graceful
 * stop that hands tasks back, a task that throws, a claimed task the worker cannot start. Each
 * time the work held back behind the limit then runs, and no running counter is left above 0.
 * (A worker that dies: limits-sigkill.test.ts.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { spawnWorker, type WorkerProcess } from './helpers/processes.js';
import { expectNoneRunning, intervals, maxOverlap } from './helpers/limits.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});
const procs: WorkerProcess[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) await p.kill('SIGKILL');
});

// the workers poll only every 10 s: what runs soon after a slot comes back was woken for it
async function worker(o: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const p = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 100, concurrency: 4, fetchTaskInterval: 10_000, ...extra });
  procs.push(p);
  return p;
}
function client(o: Record<string, unknown>) {
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return c;
}
const waitAll = (c: Client, ids: string[]) => Promise.all(ids.map((id) => c.wait(id, { timeout: 25_000 })));

describe('a graceful stop', () => {
  it('hands its tasks back with their slots: a worker idle at the limit takes them at once', async () => {
    const o = server.options();
    const c = client(o);
    await c.setLimit({ function: 'sleep' }, { concurrency: 2 });
    const a = await worker(o, { stopGrace: 100 });
    // the two that a takes run long enough to be handed back; two more wait behind the limit
    const handed = [await c.submit('sleep', { ms: 5000 }), await c.submit('sleep', { ms: 5000 })];
    for (const id of handed) await a.waitFor(new RegExp(`^STARTED ${id} 1$`));
    const ids = [...handed, await c.submit('sleep', { ms: 50 }), await c.submit('sleep', { ms: 50 })];
    // b (in this process, so it is up at once) has free slots, but the limit is full
    const started: { id: string; attempt: number; at: number }[] = [];
    const b = new Worker({ port: 0, redis: o, concurrency: 4, fetchTaskInterval: 10_000 });
    b.addTaskFunction('sleep', async (task) => {
      started.push({ id: task.id, attempt: task.attempt, at: Date.now() });
      await new Promise((r) => setTimeout(r, 50));
      return null;
    });
    cleanup.push(() => b.stop());
    await b.start();
    await new Promise((r) => setTimeout(r, 300));
    expect(started).toEqual([]);

    expect(await a.kill('SIGTERM')).toBe(0);
    const stoppedAt = Date.now();
    // at their place, ahead of the two that waited, without counting an attempt, and at once
    await until(() => started.length >= 2, 'b started the handed-back tasks', 3000);
    expect(started.slice(0, 2).map((s) => [s.id, s.attempt]).sort()).toEqual(handed.map((id) => [id, 1]).sort());
    expect(started[0]!.at - stoppedAt).toBeLessThan(1000);

    const ended = await waitAll(c, ids);
    expect(ended.map((t) => t.outcome)).toEqual(ids.map(() => 'succeeded'));
    expect(maxOverlap(await intervals(c, ids))).toBe(2);
    await expectNoneRunning(redis, o.keyPrefix);
  });
});

describe('a task that throws', () => {
  it('releases its slot: the next one starts, one at a time under concurrency 1', async () => {
    const o = server.options();
    const c = client(o);
    await c.setLimit({ function: 'fail' }, { concurrency: 1 });
    await worker(o);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await c.submit('fail', { ms: 100 }));

    const ended = await waitAll(c, ids);
    expect(ended.map((t) => [t.outcome, (t.error as { message?: string }).message])).toEqual(ids.map(() => ['failed', 'failed on purpose']));
    expect(maxOverlap(await intervals(c, ids))).toBe(1);
    await expectNoneRunning(redis, o.keyPrefix);
  });
});

describe('a claimed task the worker cannot start', () => {
  it('is parked alone and releases its slot', async () => {
    const o = server.options();
    const c = client(o);
    await c.setLimit({ function: 'sleep' }, { concurrency: 1 });
    const w = await worker(o);
    const first = await c.submit('sleep', { ms: 800 });
    await w.waitFor(new RegExp(`^STARTED ${first} 1$`));
    const broken = await c.submit('sleep', { ms: 50 });
    const next = await c.submit('sleep', { ms: 50 });
    // routed behind the limit, then its entry edited by hand into one that names another task
    await until(async () => (await c.get(next))?.state === 'QUEUED' && (await redis.hget(`${o.keyPrefix}task-${broken}`, 'member')), 'both routed');
    await redis.hset(`${o.keyPrefix}task-${broken}`, 'data', JSON.stringify({ id: 'someone-else', function: 'sleep', data: { ms: 50 } }));

    expect(await c.wait(broken, { timeout: 10_000 })).toMatchObject({ outcome: 'failed', parked: { reason: 'unrunnable' } });
    expect(await c.wait(next, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded' });
    await expectNoneRunning(redis, o.keyPrefix);
  });
});
