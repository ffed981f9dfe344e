/**
 * The wire protocol, line by line (DESIGN.md's table, the seed's Redis layout): a real worker,
 * monitor and client on a private redis-server, checked with plain Redis commands and redis-cli.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Monitor, Worker, type TaskEvent } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});


function worker(redisOptions: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const w = new Worker({ port: 0, redis: redisOptions, heartbeatInterval: 100, ...extra });
  cleanup.push(() => w.stop());
  return w;
}
function monitor(redisOptions: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const m = new Monitor({ redis: redisOptions, taskTimeout: 1000, checkTaskInterval: 200, ...extra });
  cleanup.push(() => m.stop());
  return m;
}
function client(redisOptions: Record<string, unknown>) {
  const c = new Client({ redis: redisOptions });
  cleanup.push(() => c.close());
  return c;
}

/** a function that runs until released, so a test can look at a RUNNING task */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

describe('a task pushed with redis-cli in the seed format', () => {
  it('runs, publishes events on task-<id>-events, and its hash has the seed fields', async () => {
    const opts = { host: server.host, port: server.port }; // default key names: new-task, tasks, task-...
    const w = worker(opts);
    const g = gate();
    let seen: unknown;
    w.addTaskFunction('test', async (task) => {
      seen = task.data;
      task.emit('progress', { pct: 50 });
      await g.opened;
      return 'done';
    });
    await w.start();
    const events: TaskEvent[] = [];
    const c = client(opts);
    // subscribed before the push: the task's progress event, sent as it starts, is not kept for a
    // later subscriber (a fixed pause was not enough under load)
    await c.subscribe('abc', (e) => events.push(e)).ready;

    execFileSync('redis-cli', ['-p', String(server.port), 'LPUSH', 'new-task', '{"id":"abc","function":"test","data":"{}"}']);

    await until(() => redis.sismember('tasks', 'abc'), 'abc in tasks');
    const h = await redis.hgetall('task-abc');
    expect(h.state).toBe('RUNNING');
    expect(h.worker).toBe(w.address);
    expect(h.data).toBe('{"id":"abc","function":"test","data":"{}"}');
    expect(Number(h.start)).toBeGreaterThan(0);
    expect(Number(h.update)).toBeGreaterThanOrEqual(Number(h.start));
    expect(seen).toEqual({}); // the seed's data is a JSON string, handed over parsed
    expect(await redis.smembers('workers')).toContain(w.address);

    await until(() => events.some((e) => e.event === 'progress'), 'progress event');
    expect(events.find((e) => e.event === 'progress')!.data).toEqual({ pct: 50 });

    g.open();
    const ended = await c.wait('abc', { timeout: 5000 });
    expect(ended).toMatchObject({ state: 'END', outcome: 'succeeded', result: 'done' });
    expect(await redis.hget('task-abc', 'state')).toBe('END');
    await until(() => events.some((e) => e.event === 'end'), 'end event');
  });
});

describe('queue and claim', () => {
  it('takes tasks first in, first out: producers LPUSH, workers take from the right', async () => {
    const o = server.options();
    for (const id of ['a', 'b', 'c']) await redis.lpush(`${o.keyPrefix}new-task`, JSON.stringify({ id, function: 'echo', data: id }));
    const order: string[] = [];
    const w = worker(o, { concurrency: 1 });
    w.addTaskFunction('echo', async (t) => {
      order.push(t.id);
    });
    await w.start();
    await until(() => order.length === 3, 'three tasks run');
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('an idle worker takes a new task at once, not after fetchTaskInterval', async () => {
    const o = server.options();
    const w = worker(o, { fetchTaskInterval: 60_000 });
    const started: number[] = [];
    w.addTaskFunction('echo', async () => {
      started.push(Date.now());
    });
    await w.start();
    await new Promise((r) => setTimeout(r, 200)); // the worker is now blocked waiting
    const t0 = Date.now();
    await client(o).submit('echo', 1);
    await until(() => started.length === 1, 'task started', 5000);
    // The fallback poll is a minute away; a pickup within seconds proves it was not needed.
    expect(started[0]! - t0).toBeLessThan(5000);
  });

  it('runs at most `concurrency` tasks at once', async () => {
    const o = server.options();
    const w = worker(o, { concurrency: 3 });
    let now = 0;
    let peak = 0;
    w.addTaskFunction('slow', async () => {
      peak = Math.max(peak, ++now);
      await new Promise((r) => setTimeout(r, 50));
      now--;
    });
    await w.start();
    const c = client(o);
    const ids = await Promise.all(Array.from({ length: 12 }, () => c.submit('slow')));
    await Promise.all(ids.map((id) => c.wait(id, { timeout: 10_000 })));
    expect(peak).toBe(3);
  });
});

describe('task hash, heartbeats and the end', () => {
  it('renews `update` while the task runs, and stores result, outcome and end', async () => {
    const o = server.options();
    const w = worker(o, { heartbeatInterval: 50 });
    const g = gate();
    w.addTaskFunction('job', async () => {
      await g.opened;
      return { ok: true };
    });
    await w.start();
    const c = client(o);
    const id = await c.submit('job', { n: 1 });
    expect((await c.get(id))?.state).toMatch(/QUEUED|RUNNING/);
    await until(async () => (await c.get(id))?.state === 'RUNNING', 'RUNNING');
    const first = (await c.get(id))!.update!;
    await until(async () => (await c.get(id))!.update! > first, 'update renewed by heartbeat');
    g.open();
    const t = await c.wait(id, { timeout: 5000 });
    expect(t).toMatchObject({ id, state: 'END', outcome: 'succeeded', result: { ok: true }, data: { n: 1 }, attempt: 1, worker: w.address });
    expect(t.end).toBeGreaterThanOrEqual(t.start!);
  });

  it('a throwing function ends the task as failed with its error stored', async () => {
    const o = server.options();
    const w = worker(o);
    w.addTaskFunction('bad', async () => {
      throw new TypeError('no such file: /tmp/x');
    });
    await w.start();
    const c = client(o);
    const t = await c.wait(await c.submit('bad'), { timeout: 5000 });
    expect(t.outcome).toBe('failed');
    expect(t.error).toMatchObject({ name: 'TypeError', message: 'no such file: /tmp/x' });
  });
});

describe('control channel task-<id>-control', () => {
  it('`stop` aborts the task through its signal and ends it as stopped', async () => {
    const o = server.options();
    const w = worker(o);
    w.addTaskFunction('forever', (task) => new Promise((_, reject) => task.signal.addEventListener('abort', () => reject(new Error('aborted')))));
    await w.start();
    const c = client(o);
    const id = await c.submit('forever');
    await until(async () => (await c.get(id))?.state === 'RUNNING', 'RUNNING');
    await redis.publish(`${o.keyPrefix}task-${id}-control`, 'stop'); // as the seed's users do
    const t = await c.wait(id, { timeout: 5000 });
    expect(t.outcome).toBe('stopped');
  });

  it('`stop` ends a task that ignores its signal after abortTimeout', async () => {
    const o = server.options();
    const w = worker(o, { abortTimeout: 200 });
    w.addTaskFunction('stubborn', () => new Promise(() => {}));
    await w.start();
    const c = client(o);
    const id = await c.submit('stubborn');
    await until(async () => (await c.get(id))?.state === 'RUNNING', 'RUNNING');
    await c.control(id, 'stop');
    expect((await c.wait(id, { timeout: 5000 })).outcome).toBe('stopped');
  });

  it('`reload` restarts the function from the data now in the hash', async () => {
    const o = server.options();
    const w = worker(o);
    const runs: unknown[] = [];
    const g = gate();
    w.addTaskFunction('job', async (task) => {
      runs.push(task.data);
      if (runs.length === 1) {
        await new Promise((_, reject) => task.signal.addEventListener('abort', () => reject(new Error('aborted'))));
      }
      await g.opened;
      return task.data;
    });
    await w.start();
    const c = client(o);
    const id = await c.submit('job', { v: 1 });
    await until(() => runs.length === 1, 'first run');
    await redis.hset(`${o.keyPrefix}task-${id}`, 'data', JSON.stringify({ id, function: 'job', data: { v: 2 } }));
    await c.control(id, 'reload');
    await until(() => runs.length === 2, 'second run');
    g.open();
    const t = await c.wait(id, { timeout: 5000 });
    expect(runs).toEqual([{ v: 1 }, { v: 2 }]);
    expect(t).toMatchObject({ outcome: 'succeeded', result: { v: 2 } });
  });

  it('a JSON control event {event_name, event} reaches task.on(event_name)', async () => {
    const o = server.options();
    const w = worker(o);
    w.addTaskFunction('listener', (task) => new Promise((resolve) => task.on('pause', (payload) => resolve({ got: payload }))));
    await w.start();
    const c = client(o);
    const id = await c.submit('listener');
    await until(async () => (await c.get(id))?.state === 'RUNNING', 'RUNNING');
    await redis.publish(`${o.keyPrefix}task-${id}-control`, JSON.stringify({ event_name: 'pause', event: { seconds: 5 } }));
    expect((await c.wait(id, { timeout: 5000 })).result).toEqual({ got: { seconds: 5 } });
  });
});

describe('the monitor cleans up ended tasks', () => {
  it('takes ended tasks out of `tasks` and moves manual_end ones to `end-task`, keeping their hash', async () => {
    const o = server.options();
    const w = worker(o);
    w.addTaskFunction('job', async () => 'ok');
    await w.start();
    const c = client(o);
    const plain = await c.submit('job');
    const flagged = await c.submit('job', null, { manualEnd: true });
    // The seed's monitor read the flag inside `data`, which may be a JSON string.
    await redis.lpush(`${o.keyPrefix}new-task`, JSON.stringify({ id: 'in-data', function: 'job', data: JSON.stringify({ manual_end: true }) }));
    for (const id of [plain, flagged, 'in-data']) await c.wait(id, { timeout: 5000 });
    expect(await redis.smembers(`${o.keyPrefix}tasks`)).toEqual(expect.arrayContaining([plain, flagged, 'in-data']));

    await monitor(o).start();
    await until(async () => (await redis.scard(`${o.keyPrefix}tasks`)) === 0, 'tasks emptied by the monitor');
    expect((await redis.smembers(`${o.keyPrefix}end-task`)).sort()).toEqual([flagged, 'in-data'].sort());
    expect(await redis.hget(`${o.keyPrefix}task-${flagged}`, 'state')).toBe('END');
    expect(await redis.pttl(`${o.keyPrefix}task-${flagged}`)).toBe(-1); // kept for manual cleanup
    const ttl = await redis.pttl(`${o.keyPrefix}task-${plain}`);
    expect(ttl).toBeGreaterThan(0); // readable for endRetention, then gone
    expect(ttl).toBeLessThanOrEqual(3_600_000);
  });

  it('with endRetention 0 deletes an ended hash at once, as the seed did; wait() still sees the end', async () => {
    const o = server.options();
    await monitor(o, { endRetention: 0 }).start();
    const w = worker(o);
    const g = gate();
    w.addTaskFunction('job', async () => {
      await g.opened;
      return 42;
    });
    await w.start();
    const c = client(o);
    const id = await c.submit('job');
    // The wait is in place before the task can end: a wait begun after a hash is deleted at once
    // has nothing left to read (pub/sub keeps no end for a later subscriber: docs/semantics.md).
    const waited = c.wait(id, { timeout: 5000 });
    const channel = `${o.keyPrefix}task-${id}-events`;
    await until(async () => ((await redis.pubsub('NUMSUB', channel)) as [string, number])[1] > 0, 'the wait subscribed');
    await new Promise((r) => setTimeout(r, 100)); // its first read (RUNNING or QUEUED) is back
    g.open();
    expect(await waited).toMatchObject({ state: 'END', outcome: 'succeeded', result: 42 });
    await until(async () => (await redis.exists(`${o.keyPrefix}task-${id}`)) === 0, 'hash deleted');
    expect(await c.get(id)).toBeNull();
  });
});

describe('workers set', () => {
  it('lists a started worker as host:port and takes it out when it stops', async () => {
    const o = server.options();
    const w = new Worker({ port: 0, redis: o });
    await w.start();
    expect(await redis.smembers(`${o.keyPrefix}workers`)).toEqual([w.address]);
    expect(w.address).toMatch(/^127\.0\.0\.1:\d+$/);
    await w.stop();
    expect(await redis.smembers(`${o.keyPrefix}workers`)).toEqual([]);
    expect(w.state).toBe('stopped');
  });

  it('reports its machine state and emits `state` on each transition', async () => {
    const o = server.options();
    const w = worker(o);
    const states: unknown[] = [];
    w.on('state', (s) => states.push(s));
    await w.start();
    expect(states[0]).toBe('starting');
    expect(w.state).toHaveProperty('connected');
    await w.stop();
    expect(states.at(-1)).toBe('stopped');
  });
});
