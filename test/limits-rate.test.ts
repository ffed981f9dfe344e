/**
 * Swarm-wide rate limits (issue 9), across real worker processes: no window of `per` ms on
 * Redis's clock holds more than `max` starts of a limited function or group, and the work goes
 * at the limit, not far below it: a claim held back by a rate answers when the window opens
 * (`wakeAt`), and the workers claim then, though they poll only every 10 s.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client } from '../src/index.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { spawnWorker, type WorkerProcess } from './helpers/processes.js';
import { expectNoneRunning, intervals, maxStartsIn } from './helpers/limits.js';

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

async function workers(o: Record<string, unknown>, n: number, concurrency: number) {
  const ps = await Promise.all(Array.from({ length: n }, () => spawnWorker({ port: 0, redis: o, heartbeatInterval: 200, concurrency, fetchTaskInterval: 10_000 })));
  procs.push(...ps);
  return ps;
}
function client(o: Record<string, unknown>) {
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return c;
}
const waitAll = (c: Client, ids: string[]) => Promise.all(ids.map((id) => c.wait(id, { timeout: 25_000 })));
const span = (starts: number[]) => Math.max(...starts) - Math.min(...starts);

describe('a function limited to 5 starts per 1000 ms', () => {
  it('never starts more than 5 in any 1000 ms across two workers, and starts 5 in each window', async () => {
    const o = server.options();
    const c = client(o);
    await c.setLimit({ function: 'sleep' }, { rate: { max: 5, per: 1000 } });
    await workers(o, 2, 3);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await c.submit('sleep', { ms: 300 }));

    const ended = await waitAll(c, ids);
    expect(ended.map((t) => t.outcome)).toEqual(ids.map(() => 'succeeded'));
    const xs = await intervals(c, ids);
    const starts = xs.map((x) => x.start);
    expect(maxStartsIn(1000, starts)).toBe(5);
    // 20 starts at 5 a window: windows open at 0, 1000, 2000 and 3000 ms; each wake may be a
    // little late, not a poll interval late
    expect(span(starts)).toBeGreaterThanOrEqual(3000);
    expect(span(starts)).toBeLessThan(3600);
    // both workers took part (each runs 3 at most; a window starts 5 of 300 ms)
    expect(new Set(xs.map((x) => x.task.worker)).size).toBe(2);
    await expectNoneRunning(redis, o.keyPrefix);
  });
});

describe('a group limited to 4 starts per 800 ms', () => {
  it('holds across functions, at the limit, while ungrouped tasks flow beside it', async () => {
    const o = server.options();
    const c = client(o);
    await c.setLimit({ group: 'g1' }, { rate: { max: 4, per: 800 } });
    const group: string[] = [];
    for (let i = 0; i < 6; i++) {
      group.push(await c.submit('sleep', { ms: 100 }, { group: 'g1' }));
      group.push(await c.submit('nap', { ms: 100 }, { group: 'g1' }));
    }
    const others: string[] = [];
    for (let i = 0; i < 12; i++) others.push(await c.submit(i % 2 ? 'sleep' : 'nap', { ms: 100 }));
    // slots enough that the group is held back by its rate alone
    await workers(o, 2, 8);

    const ended = await waitAll(c, [...group, ...others]);
    expect(ended.map((t) => t.outcome)).toEqual([...group, ...others].map(() => 'succeeded'));
    const g = await intervals(c, group);
    const rest = await intervals(c, others);
    const starts = g.map((x) => x.start);
    expect(maxStartsIn(800, starts)).toBe(4);
    expect(new Set(g.map((x) => x.task.function))).toEqual(new Set(['sleep', 'nap']));
    // 12 starts at 4 a window: windows open at 0, 800 and 1600 ms
    expect(span(starts)).toBeGreaterThanOrEqual(1600);
    expect(span(starts)).toBeLessThan(2200);
    // the ungrouped tasks (12 of 100 ms on the free slots) did not wait for the group's windows
    expect(Math.max(...rest.map((x) => x.end))).toBeLessThan(Math.max(...starts));
    await expectNoneRunning(redis, o.keyPrefix);
  });
});
