/**
 * A lease names one claim of an id for good: `<claims>.<token>:<worker>`, the claim's token
 * beside the count of claims in the task's hash. The count alone (`<claims>:<worker>`) started
 * over once the hash was cleaned up (endRetention 0, or its retention over) and the id submitted
 * again, so the same worker's next claim of the id got the very lease an earlier claim had. A
 * copy of that earlier claim still running (a function that ignored its AbortSignal) was then
 * taken for the new claim by every check fenced by the lease: its events went out on the new
 * claim's channel, and its END, retried through a silent link, ended the new submission with the
 * old result. docs/semantics.md: events are "published only under the task's current lease".
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Monitor, Worker, type Task, type TaskEvent } from '../src/index.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

async function redisServer(): Promise<RedisServer> {
  const s = await startRedis();
  cleanup.push(() => s.stop());
  return s;
}

describe('an id submitted again after its hash was cleaned up, claimed by the same worker', () => {
  it('a stale copy of the earlier claim (its function ignored the abort) is fenced: none of its events reach the new claim’s channel', async () => {
    const server = await redisServer();
    const o = server.options();
    const c = new Client({ redis: o });
    const m = new Monitor({ redis: o, endRetention: 0, checkTaskInterval: 50, logger: quiet });
    const w = new Worker({ port: 0, redis: o, abortTimeout: 200, logger: quiet });
    const handles: Task[] = [];
    let releaseFirst!: () => void;
    const firstDone = new Promise<void>((r) => (releaseFirst = r));
    let releaseSecond!: () => void;
    const secondDone = new Promise<void>((r) => (releaseSecond = r));
    w.addTaskFunction('stubborn', async (task) => {
      handles.push(task);
      // ignores its AbortSignal
      await ((task.data as { n: number }).n === 1 ? firstDone : secondDone);
      return (task.data as { n: number }).n;
    });
    cleanup.push(() => c.close(), () => m.stop(), () => w.stop());
    await m.start();
    await w.start();

    const id = 'reused-id';
    await c.submit('stubborn', { n: 1 }, { id });
    await until(() => handles.length === 1, 'first claim running');
    const firstLease = await server.client().hget(`${o.keyPrefix}task-${id}`, 'lease');
    await c.cancel(id); // stopped: its function ignores the abort and runs on, a stale copy
    await until(async () => (await c.get(id)) === null, 'ended and cleaned up (endRetention 0)');

    await c.submit('stubborn', { n: 2 }, { id });
    await until(() => handles.length === 2, 'second claim running');
    const secondLease = await server.client().hget(`${o.keyPrefix}task-${id}`, 'lease');
    const events: TaskEvent[] = [];
    const off = c.subscribe(id, (e) => events.push(e));
    await off.ready;

    // the stale copy (the first run) speaks
    handles[0]!.emit('stale', { from: 'first claim', lease: firstLease });
    handles[1]!.emit('fresh', { from: 'second claim', lease: secondLease });
    await until(() => events.some((e) => e.event === 'fresh'), 'the second claim’s event');
    await new Promise((r) => setTimeout(r, 200));
    off();
    releaseFirst();
    releaseSecond();
    const t = await c.wait(id, { timeout: 10_000 });
    expect(t).toMatchObject({ outcome: 'succeeded', result: 2 });
    expect(
      events.filter((e) => e.event === 'stale'),
      `the first claim's lease ${firstLease}, the second's ${secondLease}: a stale copy spoke on the new claim's channel`,
    ).toEqual([]);
  }, 30_000);
});

describe('an END still on its way (Redis unreachable) when its id is claimed again here under the same lease', () => {
  it('the old END never ends the new claim: the task submitted again ends once, with its own result', async () => {
    const { startProxy } = await import('./helpers/tcp-proxy.js');
    const server = await redisServer();
    const o = server.options();
    const proxy = await startProxy(server.host, server.port);
    cleanup.push(() => proxy.close());
    const c = new Client({ redis: o });
    const m = new Monitor({ redis: o, endRetention: 0, checkTaskInterval: 100, taskTimeout: 1500, logger: quiet });
    const w = new Worker({ port: 0, redis: { ...o, host: '127.0.0.1', port: proxy.port }, heartbeatInterval: 300, logger: quiet });
    const started: number[] = [];
    let releaseFirst!: () => void;
    const firstDone = new Promise<void>((r) => (releaseFirst = r));
    let releaseSecond!: () => void;
    const secondDone = new Promise<void>((r) => (releaseSecond = r));
    w.addTaskFunction('job', async (task) => {
      const n = (task.data as { n: number }).n;
      started.push(n);
      await (n === 1 ? firstDone : secondDone);
      return { n };
    });
    cleanup.push(() => c.close(), () => m.stop(), () => w.stop());
    await m.start();
    await w.start();

    const id = 'reused-end';
    await c.submit('job', { n: 1 }, { id });
    await until(() => started.length === 1, 'first claim running');
    const firstLease = await server.client().hget(`${o.keyPrefix}task-${id}`, 'lease');
    proxy.partition(); // the worker's link goes silent
    releaseFirst(); // its function returns: the END cannot reach Redis, and is tried again and again
    // the monitor (its own link) finds the task stale and queues it again; cancelled while
    // queued it ends at once, and is cleaned up at once (endRetention 0); the id is submitted again
    await until(async () => (await c.get(id))?.state === 'QUEUED', 'requeued by the monitor', 10_000);
    await c.cancel(id);
    await until(async () => (await c.get(id)) === null, 'ended and cleaned up');
    const ends: TaskEvent[] = [];
    const off = c.subscribe(id, (e) => {
      if (e.event === 'end') ends.push(e);
    });
    await off.ready;
    await c.submit('job', { n: 2 }, { id });
    proxy.heal();
    await until(() => started.length === 2, 'second submission running', 10_000);
    const secondLease = await server.client().hget(`${o.keyPrefix}task-${id}`, 'lease');
    // the old copy's END is tried every finishRetryDelay: give it time to land
    await new Promise((r) => setTimeout(r, 1500));
    releaseSecond();
    await new Promise((r) => setTimeout(r, 1500));
    off();
    expect(
      ends.map((e) => e.data),
      `leases: the first claim's ${firstLease}, the second's ${secondLease}`,
    ).toEqual([expect.objectContaining({ outcome: 'succeeded', result: { n: 2 } })]);
  }, 40_000);
});
