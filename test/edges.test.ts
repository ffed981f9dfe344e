/**
 * The smaller edges of issue 7, each caused for real: a claim whose reply a slow link lost after
 * Redis ran it, a worker with no functions in front of a non-empty queue, a graceful stop while
 * an END is still on its way, a halt that waits for the function, and a re-asserted task that
 * keeps what its claim recorded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Monitor, Worker, type Task } from '../src/index.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';
import { startProxy } from './helpers/tcp-proxy.js';

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

/** a promise the test settles by hand */
function gate<T = void>() {
  let open!: (v: T) => void;
  const p = new Promise<T>((r) => (open = r));
  return { p, open };
}

/** how many times Redis has run `cmd` (INFO commandstats) */
async function commandCalls(s: RedisServer, cmd: string): Promise<number> {
  const stats = (await s.client().info('commandstats')).split('\n');
  return Number(/calls=(\d+)/.exec(stats.find((l) => l.startsWith(`cmdstat_${cmd}:`)) ?? '')?.[1] ?? 0);
}

describe('a claim that Redis ran but whose reply was lost (slow link past the command timeout)', () => {
  it('is recovered: what it took goes back to the queue at once, without an attempt charged, and runs (no monitor)', async () => {
    const server = await redisServer();
    const o = server.options();
    const proxy = await startProxy(server.host, server.port);
    cleanup.push(() => proxy.close());
    const c = new Client({ redis: o });
    const w = new Worker({ port: 0, redis: { ...o, host: '127.0.0.1', port: proxy.port }, concurrency: 1, heartbeatInterval: 500, logger: quiet });
    const first = gate();
    const runs = new Map<string, number>();
    w.addTaskFunction('gated', async (t: Task) => {
      runs.set(t.id, (runs.get(t.id) ?? 0) + 1);
      await first.p;
      return 'first';
    });
    w.addTaskFunction('echo', (t: Task) => {
      runs.set(t.id, (runs.get(t.id) ?? 0) + 1);
      return t.data;
    });
    cleanup.push(() => c.close(), () => w.stop());
    await w.start();
    const a = await c.submit('gated');
    await until(() => runs.get(a) === 1, 'a running');
    const b = await c.submit('echo', 'second');
    // The link turns slow past the command timeout (1 s here): a's END and the claim of b go
    // out together; Redis runs them, b is claimed for this worker, the reply comes too late.
    proxy.delay(1500);
    first.open();
    await until(async () => (await c.get(b))?.state === 'RUNNING', 'b claimed in Redis', 5000);
    // handed back by the worker itself (claim-recover.lua): QUEUED again, its attempt given back
    await until(async () => (await c.get(b))?.state === 'QUEUED', 'b handed back', 10_000);
    proxy.heal();
    const tb = await c.wait(b, { timeout: 15_000 });
    expect(tb).toMatchObject({ outcome: 'succeeded', result: 'second', attempt: 1 });
    // the hand-back gave the attempt back: one attempt in its history, the one that ran
    expect(tb.history).toEqual([expect.objectContaining({ attempt: 1, outcome: 'succeeded' })]);
    expect(runs.get(b)).toBe(1);
    expect(await c.wait(a, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', result: 'first' });
  });
});

describe('a worker with no functions in front of a non-empty queue', () => {
  it('waits instead of spinning, and takes a task as soon as a function is added', async () => {
    const server = await redisServer();
    const o = server.options();
    const c = new Client({ redis: o });
    const w = new Worker({ port: 0, redis: o, fetchTaskInterval: 5000, logger: quiet });
    cleanup.push(() => c.close(), () => w.stop());
    const id = await c.submit('late', 'x');
    await w.start();
    const before = (await commandCalls(server, 'blmove')) + (await commandCalls(server, 'fcall'));
    await new Promise((r) => setTimeout(r, 1000));
    const after = (await commandCalls(server, 'blmove')) + (await commandCalls(server, 'fcall'));
    // a heartbeat or two; before, thousands of wake-ups a second
    expect(after - before).toBeLessThan(10);
    const added = Date.now();
    w.addTaskFunction('late', (t: Task) => t.data);
    expect(await c.wait(id, { timeout: 4000 })).toMatchObject({ outcome: 'succeeded', result: 'x' });
    expect(Date.now() - added).toBeLessThan(4000); // not a whole fetchTaskInterval later
  });
});

describe('a graceful stop while a finished task’s END is still on its way (Redis unreachable)', () => {
  it('does not hand the finished task back to run again: its END is written when Redis answers, once', async () => {
    const server = await redisServer();
    const o = server.options();
    const proxy = await startProxy(server.host, server.port);
    cleanup.push(() => proxy.close());
    const c = new Client({ redis: o });
    const w = new Worker({ port: 0, redis: { ...o, host: '127.0.0.1', port: proxy.port }, stopGrace: 300, abortTimeout: 5000, logger: quiet });
    const done = gate();
    let runs = 0;
    w.addTaskFunction('quick', async () => {
      runs++;
      await done.p;
      return 'finished';
    });
    cleanup.push(() => c.close(), () => w.stop());
    await w.start();
    const id = await c.submit('quick');
    await until(() => runs === 1, 'running');
    proxy.reset(); // connections closed, new ones refused
    done.open(); // the function returns: its END cannot be written now
    await new Promise((r) => setTimeout(r, 200));
    const stopped = w.stop();
    // past stopGrace, and past the time a hand-back would have taken to fail: before, the
    // finished task was handed back (or, failing that, abandoned with its END unwritten)
    await new Promise((r) => setTimeout(r, 2000));
    proxy.heal();
    await stopped;
    const t = await c.get(id);
    expect(t).toMatchObject({ state: 'END', outcome: 'succeeded', result: 'finished', attempt: 1 });
    expect(await server.client().llen(`${o.keyPrefix}new-task`)).toBe(0); // never handed back
    expect(runs).toBe(1);
  });
});

describe('a worker cut off from Redis and from its peers (partitioned)', () => {
  it('aborts its functions and is halted once they have returned (within abortTimeout), not before', async () => {
    const server = await redisServer();
    const o = server.options();
    const proxy = await startProxy(server.host, server.port);
    cleanup.push(() => proxy.close());
    // a peer that never answers: the worker reaches 0 of 1 when Redis is gone
    await server.client().sadd(`${o.keyPrefix}workers`, '127.0.0.1:9');
    const c = new Client({ redis: o });
    const w = new Worker({ port: 0, redis: { ...o, host: '127.0.0.1', port: proxy.port }, heartbeatInterval: 200, pingTimeout: 300, abortTimeout: 3000, logger: quiet });
    const marks: [string, number][] = [];
    w.addTaskFunction('tidy', (t: Task) => {
      marks.push(['started', Date.now()]);
      return new Promise((resolve) => {
        t.signal.addEventListener('abort', () => {
          marks.push(['aborted', Date.now()]);
          // cleaning up takes a while after the signal
          setTimeout(() => {
            marks.push(['returned', Date.now()]);
            resolve('tidied');
          }, 800);
        });
      });
    });
    w.on('state', (s: unknown) => {
      if (s === 'halted' || s === 'partitioned') marks.push([s, Date.now()]);
    });
    cleanup.push(() => c.close(), () => w.stop());
    await w.start();
    const id = await c.submit('tidy');
    await until(() => marks.some(([m]) => m === 'started'), 'running');
    proxy.partition();
    await until(() => marks.some(([m]) => m === 'halted'), 'halted', 10_000);
    const at = (m: string) => marks.find(([x]) => x === m)?.[1] ?? NaN;
    // (the abort is an action of the step that enters partitioned, before its state event)
    expect(marks.map(([m]) => m).filter((m) => m !== 'partitioned')).toEqual(['started', 'aborted', 'returned', 'halted']);
    expect(at('halted') - at('aborted')).toBeGreaterThanOrEqual(750);
    // halted when they returned, not at the end of abortTimeout (3 s)
    expect(at('halted') - at('returned')).toBeLessThan(1000);
    // what it returned was not written: the monitors requeue the task elsewhere
    proxy.heal();
    await until(async () => (await c.get(id))?.state === 'RUNNING', 'still RUNNING in Redis (requeued by a monitor later)');
  });
});

describe('a task re-asserted after Redis lost its data', () => {
  it('keeps what its claim recorded: manual_end read from inside its data, and the claim’s start (Redis time)', async () => {
    const server = await redisServer();
    const o = server.options();
    const c = new Client({ redis: o });
    const w = new Worker({ port: 0, redis: o, heartbeatInterval: 100, logger: quiet });
    const finish = gate();
    w.addTaskFunction('keep', async () => {
      await finish.p;
      return 'kept';
    });
    cleanup.push(() => c.close(), () => w.stop());
    await w.start();
    // manual_end inside its data, where the seed's monitor read it
    const id = await c.submit('keep', { manual_end: true });
    // held by the worker, not only RUNNING in Redis: a claim whose reply the worker reads past
    // the command timeout (its process stalled for a second) is given up and handed back, and
    // Redis losing its data then loses the task, with nothing to re-assert it from
    // (test/reassert-late-claim.test.ts)
    const claimed = await until(async () => {
      if (!w.running.includes(id)) return null;
      const t = await c.get(id);
      return t?.state === 'RUNNING' ? t : null;
    }, 'running here');
    expect(claimed.manualEnd).toBe(true);
    await server.restart(); // SIGKILL + start, no persistence: the hash is gone
    const back = await until(async () => {
      const t = await c.get(id);
      return t?.state === 'RUNNING' ? t : null;
    }, 're-asserted', 10_000);
    expect(back).toMatchObject({ manualEnd: true, start: claimed.start, attempt: 1 });
    finish.open();
    await c.wait(id, { timeout: 10_000 });
    // cleaned up as a manual_end task: listed in end-task, its hash kept
    const m = new Monitor({ redis: o, checkTaskInterval: 100, logger: quiet });
    cleanup.push(() => m.stop());
    await m.start();
    await until(async () => (await server.client().sismember(`${o.keyPrefix}end-task`, id)) === 1, 'in end-task');
    expect(await server.client().pttl(`${o.keyPrefix}task-${id}`)).toBe(-1);
  });
});
