/**
 * Limited slots come back whichever way a task stops running (issue 9): a worker SIGKILLed
 * holding them (the monitor requeues its tasks, or parks them at maxAttempts), a graceful stop
 * that hands tasks back, a task that throws, a claimed task the worker cannot start. Each time
 * the work held back behind the limit then runs, and no running counter is left above 0.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Monitor, Worker } from '../src/index.js';
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
async function startMonitor(o: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const m = new Monitor({ redis: o, taskTimeout: 800, checkTaskInterval: 5000, ...extra });
  cleanup.push(() => m.stop());
  await m.start();
  return m;
}
function client(o: Record<string, unknown>) {
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return c;
}
const waitAll = (c: Client, ids: string[]) => Promise.all(ids.map((id) => c.wait(id, { timeout: 25_000 })));
const running = (o: { keyPrefix: string }, field: string) => redis.hget(`${o.keyPrefix}new-task:running`, field);

describe('a worker SIGKILLed holding limited slots', () => {
  it('holds them until the monitor requeues its tasks, then the others run the function at its limit again', async () => {
    const o = server.options();
    const c = client(o);
    await c.setLimit({ function: 'sleep' }, { concurrency: 3 });
    await startMonitor(o);
    const ws = await Promise.all([worker(o), worker(o), worker(o)]);
    const ids: string[] = [];
    for (let i = 0; i < 15; i++) ids.push(await c.submit('sleep', { ms: 500 }));

    await until(async () => (await running(o, 'f:sleep')) === '3', 'three tasks running');
    const now = (await Promise.all(ids.map((id) => c.get(id)))).filter((t) => t!.state === 'RUNNING');
    const holders = new Map<string, number>();
    for (const t of now) holders.set(t!.worker!, (holders.get(t!.worker!) ?? 0) + 1);
    const victimAddress = [...holders].sort((a, b) => b[1] - a[1])[0]![0];
    const victim = ws.find((w) => w.address === victimAddress)!;
    const killed = now.filter((t) => t!.worker === victimAddress).map((t) => ({ id: t!.id, start: t!.start! }));
    await victim.kill('SIGKILL');

    const ended = await waitAll(c, ids);
    expect(ended.map((t) => t.outcome)).toEqual(ids.map(() => 'succeeded'));
    const xs = await intervals(c, ids);
    // the killed claims ran, as far as the swarm knows, until the monitor requeued them
    const dead = killed.map((k) => {
      const t = xs.find((x) => x.id === k.id)!.task;
      expect(t).toMatchObject({ attempt: 2, history: [expect.objectContaining({ worker: victimAddress, reason: 'heartbeat timeout' })] });
      return { id: k.id, start: k.start, end: t.history![0]!.at };
    });
    expect(maxOverlap([...xs, ...dead])).toBe(3);
    const requeuedAt = Math.min(...dead.map((d) => d.end));
    const after = xs.filter((x) => x.start >= requeuedAt);
    expect(maxOverlap(after)).toBe(3);
    expect(new Set(after.map((x) => x.task.worker)).has(victimAddress)).toBe(false);
    await expectNoneRunning(redis, o.keyPrefix);
  });

  it('gives them back when the task is parked at maxAttempts instead of requeued', async () => {
    const o = server.options();
    const c = client(o);
    await c.setLimit({ function: 'sleep' }, { concurrency: 1 });
    await startMonitor(o, { maxAttempts: 1 });
    const a = await worker(o);
    const first = await c.submit('sleep', { ms: 60_000 });
    await a.waitFor(new RegExp(`^STARTED ${first} 1$`));
    const second = await c.submit('sleep', { ms: 50 });
    await a.kill('SIGKILL');
    await worker(o);

    expect(await c.wait(first, { timeout: 10_000 })).toMatchObject({ outcome: 'failed', parked: { reason: 'max_attempts' } });
    expect(await c.wait(second, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', attempt: 1 });
    await expectNoneRunning(redis, o.keyPrefix);
  });
});

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
