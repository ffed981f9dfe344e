/**
 * Changing a limit while its tasks run (issue 9), with a real worker process that polls only
 * every 10 s, so what starts at once was woken by the change: removing a limit, or raising it,
 * lets the work it held back start at once; lowering it lets what runs finish, and starts nothing
 * until the running count is under the new limit. Client.limits() lists what is set, with what
 * runs under each.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client } from '../src/index.js';
import type { LimitTarget } from '../src/effects/limits.js';
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
async function worker(o: Record<string, unknown>) {
  const p = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 200, concurrency: 12, fetchTaskInterval: 10_000 });
  procs.push(p);
  return p;
}
function client(o: Record<string, unknown>) {
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return c;
}
const waitAll = (c: Client, ids: string[]) => Promise.all(ids.map((id) => c.wait(id, { timeout: 20_000 })));
const states = async (c: Client, ids: string[]) => (await Promise.all(ids.map((id) => c.get(id)))).map((t) => t!.state);

describe('removing a limit', () => {
  it('lets what it held back start at once: a group concurrency, a group rate, a function concurrency', async () => {
    const o = server.options();
    const c = client(o);
    const held: { target: LimitTarget; ids: string[] }[] = [
      { target: { group: 'by-count' }, ids: [] },
      { target: { group: 'by-rate' }, ids: [] },
      { target: { function: 'nap' }, ids: [] },
    ];
    await c.setLimit(held[0]!.target, { concurrency: 1 });
    await c.setLimit(held[1]!.target, { rate: { max: 1, per: 60_000 } });
    await c.setLimit(held[2]!.target, { concurrency: 1 });
    for (let i = 0; i < 3; i++) {
      held[0]!.ids.push(await c.submit('sleep', { ms: 1500 }, { group: 'by-count' }));
      held[1]!.ids.push(await c.submit('sleep', { ms: 1500 }, { group: 'by-rate' }));
      held[2]!.ids.push(await c.submit('nap', { ms: 1500 }));
    }
    await worker(o);
    for (const h of held) await until(async () => (await states(c, h.ids)).join() === 'RUNNING,QUEUED,QUEUED', `one of ${JSON.stringify(h.target)} running`);

    for (const h of held) {
      await c.setLimit(h.target, null);
      const removedAt = Date.now();
      await until(async () => (await states(c, h.ids)).every((s) => s === 'RUNNING'), `the rest of ${JSON.stringify(h.target)} running`, 3000);
      expect(Date.now() - removedAt).toBeLessThan(1000);
    }
    expect(await c.limits()).toEqual([]);
    const all = held.flatMap((h) => h.ids);
    expect((await waitAll(c, all)).map((t) => t.outcome)).toEqual(all.map(() => 'succeeded'));
    await expectNoneRunning(redis, o.keyPrefix);
  });
});

describe('raising and lowering a limit while its tasks run', () => {
  it('raised, starts the difference at once; lowered, starts nothing until fewer run than the new limit', async () => {
    const o = server.options();
    const c = client(o);
    await c.setLimit({ function: 'sleep' }, { concurrency: 1 });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await c.submit('sleep', { ms: 1200 }));
    await worker(o);
    await until(async () => (await states(c, ids)).filter((s) => s === 'RUNNING').length === 1, 'one running');

    await c.setLimit({ function: 'sleep' }, { concurrency: 3 });
    const raisedAt = Date.now();
    await until(async () => (await states(c, ids)).filter((s) => s === 'RUNNING').length === 3, 'three running', 3000);
    expect(Date.now() - raisedAt).toBeLessThan(1000);

    // lowered under what runs: the three go on (nothing is stopped)
    await c.setLimit({ function: 'sleep' }, { concurrency: 1 });
    const atLowering = await Promise.all(ids.map((id) => c.get(id)));
    const wereRunning = new Set(atLowering.filter((t) => t!.state === 'RUNNING').map((t) => t!.id));
    expect(wereRunning.size).toBe(3);
    expect(await c.limits()).toEqual([{ function: 'sleep', concurrency: 1, running: 3 }]);

    const ended = await waitAll(c, ids);
    expect(ended.map((t) => t.outcome)).toEqual(ids.map(() => 'succeeded'));
    const xs = await intervals(c, ids);
    const lastOfThem = Math.max(...xs.filter((x) => wereRunning.has(x.id)).map((x) => x.end));
    const later = xs.filter((x) => atLowering.find((t) => t!.id === x.id)!.state === 'QUEUED');
    expect(later.length).toBeGreaterThanOrEqual(2);
    // the next start waited for all three to end (running 3, 2, 1 are all at or over 1) ...
    expect(Math.min(...later.map((x) => x.start))).toBeGreaterThanOrEqual(lastOfThem);
    // ... and the rest ran one at a time
    expect(maxOverlap(later)).toBe(1);
    await expectNoneRunning(redis, o.keyPrefix);
  });
});

describe('Client.limits()', () => {
  it('lists each limit set, with how many of its tasks run now', async () => {
    const o = server.options();
    const c = client(o);
    expect(await c.limits()).toEqual([]);
    await c.setLimit({ function: 'sleep' }, { concurrency: 3, rate: { max: 50, per: 1000 } });
    await c.setLimit({ group: 'tenant-42' }, { concurrency: 2 });
    await c.setLimit({ group: 'idle' }, { rate: { max: 1, per: 5000 } });
    const ids = [
      await c.submit('sleep', { ms: 1500 }, { group: 'tenant-42' }),
      await c.submit('nap', { ms: 1500 }, { group: 'tenant-42' }),
      await c.submit('nap', { ms: 1500 }, { group: 'tenant-42' }),
      await c.submit('sleep', { ms: 1500 }),
    ];
    await worker(o);

    const expected = [
      { function: 'sleep', concurrency: 3, rate: { max: 50, per: 1000 }, running: 2 },
      { group: 'idle', rate: { max: 1, per: 5000 }, running: 0 },
      { group: 'tenant-42', concurrency: 2, running: 2 },
    ];
    await until(async () => JSON.stringify(await c.limits()) === JSON.stringify(expected), 'the limits with their running counts', 5000).catch(async (e: Error) => {
      throw new Error(`${e.message}; got ${JSON.stringify(await c.limits())}`);
    });

    await c.setLimit({ group: 'idle' }, null);
    // set again: replaced, not merged
    await c.setLimit({ function: 'sleep' }, { concurrency: 4 });
    await waitAll(c, ids);
    expect(await c.limits()).toEqual([
      { function: 'sleep', concurrency: 4, running: 0 },
      { group: 'tenant-42', concurrency: 2, running: 0 },
    ]);
    await expectNoneRunning(redis, o.keyPrefix);
  });
});

describe('a limit set where none was, while its tasks run', () => {
  /*
   * Running counts are kept only for targets a limit watches (a swarm without limits pays
   * nothing for them). A limit set on a target that had none counts what runs of it at once, so
   * it holds from its first claim: with 3 unlimited tasks running, a concurrency of 1 starts
   * nothing more until they have all ended. Without the count, the next claims would see 0
   * running and start up to 1 more each.
   */
  it('counts the tasks already running, of a function and of a group, and starts nothing past the limit', async () => {
    const o = server.options();
    const c = client(o);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await c.submit('sleep', { ms: 1200 }, { group: 'tenant-7' }));
    await worker(o);
    await until(async () => (await states(c, ids)).every((s) => s === 'RUNNING'), 'three running, no limit yet');
    await c.setLimit({ function: 'sleep' }, { concurrency: 1 });
    await c.setLimit({ group: 'tenant-7' }, { concurrency: 2 });
    const wereRunning = new Set(ids);
    for (let i = 0; i < 3; i++) ids.push(await c.submit('sleep', { ms: 300 }, { group: 'tenant-7' }));
    const limits = await c.limits();
    expect(limits).toEqual([
      { function: 'sleep', concurrency: 1, running: wereRunning.size },
      { group: 'tenant-7', concurrency: 2, running: wereRunning.size },
    ]);
    const ended = await waitAll(c, ids);
    expect(ended.map((t) => t.outcome)).toEqual(ids.map(() => 'succeeded'));
    const xs = await intervals(c, ids);
    // the others started only once every task running at the limit's setting had ended, one at a time
    const lastOfThem = Math.max(...xs.filter((x) => wereRunning.has(x.id)).map((x) => x.end));
    const later = xs.filter((x) => !wereRunning.has(x.id)).sort((a, b) => a.start - b.start);
    for (const x of later) expect(x.start).toBeGreaterThanOrEqual(lastOfThem);
    expect(maxOverlap(later)).toBe(1);
    await expectNoneRunning(redis, o.keyPrefix);
  });
});
