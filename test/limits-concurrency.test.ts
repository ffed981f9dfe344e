/**
 * Swarm-wide concurrency limits (issue 9), across real worker processes: no instant at which
 * more tasks of a limited function or group run than its limit, counting a task from its claim to
 * its END on Redis's clock; the limit is reached, not merely respected; and what is not limited
 * keeps flowing beside it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client } from '../src/index.js';
import { type RedisServer } from './helpers/redis-server.js';
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

async function workers(o: Record<string, unknown>, n: number, extra: Record<string, unknown> = {}) {
  const ps = await Promise.all(Array.from({ length: n }, () => spawnWorker({ port: 0, redis: o, heartbeatInterval: 200, ...extra })));
  procs.push(...ps);
  return ps;
}
function client(o: Record<string, unknown>) {
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return c;
}
const waitAll = (c: Client, ids: string[]) => Promise.all(ids.map((id) => c.wait(id, { timeout: 25_000 })));

describe('a function limited to concurrency 3', () => {
  it('never runs more than 3 at once across three workers of concurrency 4, and does run 3', async () => {
    const o = server.options();
    const c = client(o);
    await c.setLimit({ function: 'sleep' }, { concurrency: 3 });
    const ws = await workers(o, 3, { concurrency: 4, fetchTaskInterval: 10_000 });
    // durations vary so that ends and claims interleave across the workers
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push(await c.submit('sleep', { ms: 60 + ((i * 37) % 140) }));

    const ended = await waitAll(c, ids);
    expect(ended.map((t) => t.outcome)).toEqual(ids.map(() => 'succeeded'));
    const xs = await intervals(c, ids);
    expect(maxOverlap(xs)).toBe(3);
    // and kept at 3: a freed slot is taken again at once (the workers poll only every 10 s), so
    // the run takes about the tasks' total time over 3
    const busy = xs.reduce((sum, x) => sum + x.end - x.start, 0);
    const span = Math.max(...xs.map((x) => x.end)) - Math.min(...xs.map((x) => x.start));
    expect(span).toBeLessThan(busy / 3 + 600);
    // swarm-wide, not per worker: the tasks were spread over the workers
    const by = new Set(xs.map((x) => x.task.worker));
    expect(by.size).toBeGreaterThan(1);
    expect(ws.map((w) => w.address)).toEqual(expect.arrayContaining([...by]));
    await expectNoneRunning(redis, o.keyPrefix);
  });

  it('holds for tasks pushed to new-task by hand in the seed format, routed by any worker', async () => {
    const o = server.options();
    const c = client(o);
    await c.setLimit({ function: 'sleep' }, { concurrency: 2 });
    await workers(o, 2, { concurrency: 4 });
    const ids = Array.from({ length: 12 }, (_, i) => `hand-${i}`);
    await redis.lpush(`${o.keyPrefix}new-task`, ...ids.map((id) => JSON.stringify({ id, function: 'sleep', data: { ms: 80 } })));

    const ended = await waitAll(c, ids);
    expect(ended.map((t) => t.outcome)).toEqual(ids.map(() => 'succeeded'));
    expect(maxOverlap(await intervals(c, ids))).toBe(2);
    await expectNoneRunning(redis, o.keyPrefix);
  });
});

describe('a group limited to concurrency 2', () => {
  it('counts its tasks across functions, while other groups and ungrouped tasks keep flowing', async () => {
    const o = server.options();
    const c = client(o);
    await c.setLimit({ group: 'tenant-42' }, { concurrency: 2 });
    // the group's tasks are queued first: the others must not wait behind them
    const tenant: string[] = [];
    for (let i = 0; i < 8; i++) {
      tenant.push(await c.submit('sleep', { ms: 200 }, { group: 'tenant-42' }));
      tenant.push(await c.submit('nap', { ms: 200 }, { group: 'tenant-42' }));
    }
    const others: string[] = [];
    for (let i = 0; i < 8; i++) {
      others.push(await c.submit('nap', { ms: 200 }, { group: 'tenant-7' }));
      others.push(await c.submit('sleep', { ms: 200 }));
    }
    await workers(o, 2, { concurrency: 4 });

    const ended = await waitAll(c, [...tenant, ...others]);
    expect(ended.map((t) => t.outcome)).toEqual([...tenant, ...others].map(() => 'succeeded'));
    const t42 = await intervals(c, tenant);
    const rest = await intervals(c, others);
    expect(maxOverlap(t42)).toBe(2);
    // both functions ran the group's tasks, under the one limit
    const fnOf = (x: (typeof t42)[number]) => x.task.function;
    expect(new Set(t42.map(fnOf))).toEqual(new Set(['sleep', 'nap']));
    // the rest used the free slots meanwhile: 16 tasks of 200 ms on 6 free slots take about
    // 600 ms, the group's 16 on 2 slots about 1600 ms
    expect(maxOverlap([...t42, ...rest])).toBeGreaterThan(4);
    expect(Math.max(...rest.map((x) => x.end))).toBeLessThan(Math.max(...t42.map((x) => x.start)));
    await expectNoneRunning(redis, o.keyPrefix);
  });
});
