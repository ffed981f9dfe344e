/**
 * A worker SIGKILLed holding limited slots (issue 9): the swarm holds them (the dead worker's
 * tasks may still be running, as far as it knows) until the monitor requeues its tasks, or parks
 * them at maxAttempts; then they come back, the work held back behind the limit runs, and no
 * running counter is left above 0.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Monitor } from '../src/index.js';
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
      expect(t).toMatchObject({ attempt: 2, history: [expect.objectContaining({ worker: victimAddress, outcome: 'died', reason: 'heartbeat timeout' }), expect.objectContaining({ attempt: 2, outcome: 'succeeded' })] });
      return { id: k.id, start: k.start, end: t.history![0]!.end };
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
