/**
 * Workers as real child processes, killed and stopped for real: the task survives its worker.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Monitor, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { spawnWorker, type WorkerProcess } from './helpers/processes.js';

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

async function workerProcess(o: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const p = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 100, ...extra });
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

describe('a worker SIGKILLed mid-task', () => {
  it('loses nothing: the monitor requeues the task and another worker finishes it', async () => {
    const o = server.options();
    const a = await workerProcess(o);
    await startMonitor(o);
    const c = client(o);
    const id = await c.submit('sleep', { ms: 1500 });
    await a.waitFor(new RegExp(`^STARTED ${id} 1$`));
    expect((await c.get(id))!.worker).toBe(a.address);

    // subscribed before the kill: a requeue published before the subscription is live is gone
    let onRequeued!: () => void;
    const requeued = new Promise<void>((resolve) => (onRequeued = resolve));
    await c.subscribe(id, (e) => e.event === 'requeued' && onRequeued()).ready;
    await a.kill('SIGKILL');
    const b = await workerProcess(o);
    await requeued;
    await b.waitFor(new RegExp(`^STARTED ${id} 2$`));

    const t = await c.wait(id, { timeout: 10_000 });
    expect(t).toMatchObject({ state: 'END', outcome: 'succeeded', attempt: 2, worker: b.address, result: { slept: 1500, by: b.address } });
    expect(t.history).toEqual([
      expect.objectContaining({ worker: a.address, attempt: 1, outcome: 'died', reason: 'heartbeat timeout' }),
      expect.objectContaining({ worker: b.address, attempt: 2, outcome: 'succeeded' }),
    ]);
  });

  it('a task whose worker dies maxAttempts times is parked in the dead-letter list, not retried forever', async () => {
    const o = server.options();
    await startMonitor(o, { maxAttempts: 2 });
    const c = client(o);
    const id = await c.submit('sleep', { ms: 60_000 });
    for (const attempt of [1, 2]) {
      const w = await workerProcess(o);
      await w.waitFor(new RegExp(`^STARTED ${id} ${attempt}$`));
      await w.kill('SIGKILL');
    }
    const t = await c.wait(id, { timeout: 10_000 });
    expect(t).toMatchObject({ state: 'END', outcome: 'failed', error: { code: 'ERR_MAX_ATTEMPTS' } });
    const [dead] = await c.deadLetters();
    expect(dead).toMatchObject({ reason: 'max_attempts', id, code: 'ERR_MAX_ATTEMPTS' });
    expect(dead!.history).toHaveLength(2);
    expect(await redis.llen(`${o.keyPrefix}new-task`)).toBe(0);
  });
});

describe('graceful stop', () => {
  it('lets a short task finish within stopGrace, then deregisters', async () => {
    const o = server.options();
    const w = await workerProcess(o, { stopGrace: 5000 });
    const c = client(o);
    const id = await c.submit('sleep', { ms: 400 });
    await w.waitFor(new RegExp(`^STARTED ${id}`));
    expect(await w.kill('SIGTERM')).toBe(0);
    expect(await c.get(id)).toMatchObject({ state: 'END', outcome: 'succeeded' });
    expect(await redis.smembers(`${o.keyPrefix}workers`)).toEqual([]);
  });

  it('hands a task still running after stopGrace back to the queue, where another worker takes it', async () => {
    const o = server.options();
    const a = await workerProcess(o, { stopGrace: 200 });
    const c = client(o);
    const id = await c.submit('sleep', { ms: 1200 });
    await a.waitFor(new RegExp(`^STARTED ${id} 1$`));
    expect(await a.kill('SIGTERM')).toBe(0);
    expect(await c.get(id)).toMatchObject({ state: 'QUEUED' });
    expect(await redis.llen(`${o.keyPrefix}new-task`)).toBe(1);
    // No monitor runs here: the hand-back alone puts it back, without counting an attempt.
    const b = await workerProcess(o);
    await b.waitFor(new RegExp(`^STARTED ${id} 1$`));
    expect(await c.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', worker: b.address });
  });

  it('an idle worker ends its wait in Redis when it stops, rather than sitting out the wait or a bound', async () => {
    const o = server.options();
    const w = new Worker({ port: 0, redis: o, fetchTaskInterval: 30_000 });
    w.addTaskFunction('x', async () => null);
    await w.start();
    await until(async () => /blocked_clients:1/.test(await redis.info('clients')), 'the worker blocked in Redis');
    const t0 = Date.now();
    await w.stop();
    // the wait was unblocked (CLIENT UNBLOCK), so stop did not wait the 1 s it allows for it
    expect(Date.now() - t0).toBeLessThan(900);
    expect(await redis.info('clients')).toMatch(/blocked_clients:0/);
    expect(await redis.smembers(`${o.keyPrefix}workers`)).toEqual([]);
  });
});

describe('fencing', () => {
  it('a worker whose task was requeued meanwhile has its END refused and abandons its copy', async () => {
    const o = server.options();
    const w = new Worker({ port: 0, redis: o, heartbeatInterval: 100 });
    cleanup.push(() => w.stop());
    let aborted = false;
    let release!: () => void;
    w.addTaskFunction('job', (task) => {
      task.signal.addEventListener('abort', () => (aborted = true));
      return new Promise((r) => (release = () => r('late result')));
    });
    await w.start();
    const c = client(o);
    const id = await c.submit('job');
    await until(async () => (await c.get(id))?.state === 'RUNNING', 'RUNNING');
    // Another claim took the task over (as after a requeue): its lease is no longer ours.
    await redis.hset(`${o.keyPrefix}task-${id}`, 'lease', '99:elsewhere:1', 'worker', 'elsewhere:1');
    await until(() => aborted, 'our copy aborted on the next heartbeat');
    release();
    await new Promise((r) => setTimeout(r, 200));
    const h = await redis.hgetall(`${o.keyPrefix}task-${id}`);
    expect(h).toMatchObject({ state: 'RUNNING', worker: 'elsewhere:1', lease: '99:elsewhere:1' });
    expect(h.result).toBeUndefined();
    expect(w.running).toEqual([]);
  });
});

describe('a task requeued and claimed back by the same worker while its old copy still runs', () => {
  it('the old copy is aborted and writes nothing; the new claim runs and ends the task once', async () => {
    const o = server.options();
    // Heartbeats far apart: the worker does not learn that its lease went stale, so the
    // monitor requeues the task while the worker still runs it, and the worker, with a free
    // slot, claims it back under a new lease.
    const w = new Worker({ port: 0, redis: o, heartbeatInterval: 60_000, concurrency: 2 });
    cleanup.push(() => w.stop());
    const runs: { attempt: number; aborted: boolean; release: (v: string) => void }[] = [];
    w.addTaskFunction('job', (task) => {
      const run = { attempt: task.attempt, aborted: false, release: (_: string) => {} };
      runs.push(run);
      task.signal.addEventListener('abort', () => (run.aborted = true));
      return new Promise((r) => (run.release = r));
    });
    await w.start();
    const m = await startMonitor(o, { taskTimeout: 300, checkTaskInterval: 100 });
    const c = client(o);
    const id = await c.submit('job');
    await until(() => runs.length === 2, 'the task claimed back by the same worker', 10_000);
    expect(runs.map((r) => r.attempt)).toEqual([1, 2]);
    await until(() => runs[0]!.aborted, 'the old copy aborted when the new claim started');
    expect(runs[1]!.aborted).toBe(false);
    expect(w.running).toEqual([id]);
    // Its work is done; stopped, it cannot reap the END from `tasks:ended` before we read it.
    await m.stop();

    runs[0]!.release('from the old copy');
    runs[1]!.release('from the new claim');
    const t = await c.wait(id, { timeout: 5000 });
    expect(t).toMatchObject({ state: 'END', outcome: 'succeeded', attempt: 2, result: 'from the new claim' });
    expect(await redis.lrange(`${o.keyPrefix}tasks:ended`, 0, -1)).toEqual([id]);
    await until(() => w.running.length === 0, 'the worker holds nothing any more');
  });
});
