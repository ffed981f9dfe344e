/**
 * What `Client.wait` answers: the task's hash once it says END, and nothing before. An event is
 * only a hint to read the hash again: an `end` a stranger publishes does not end the
 * wait, a reconnect of the subscriber (which loses what was published meanwhile) makes it read
 * again, and a hash cleaned up right after the runtime's end is answered from that end event.
 * Real worker, monitor and client on a private redis-server; connections cut through a proxy.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { Client, Monitor, StateError, TaskNotFoundError, TimeoutError, Worker, type TaskEvent, type TaskInfo } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { startProxy } from './helpers/tcp-proxy.js';
import { spawnWorker } from './helpers/processes.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

async function worker(o: Record<string, unknown>) {
  const w = new Worker({ port: 0, redis: o, heartbeatInterval: 100 });
  cleanup.push(() => w.stop());
  return w;
}
function client(o: Record<string, unknown>) {
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return c;
}
/** a Client whose connections (command and subscriber) go through a proxy the test controls */
async function clientBehindProxy(o: Record<string, unknown>) {
  const proxy = await startProxy(server.host, server.port);
  cleanup.push(() => proxy.close());
  return { proxy, c: client({ ...o, host: '127.0.0.1', port: proxy.port }) };
}
/** a function that runs until released, so a test can act while the task is RUNNING */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}
/** a promise whose state the test can look at without awaiting it */
function track<T>(p: Promise<T>) {
  const t = { settled: false, error: undefined as unknown, promise: p };
  p.then(
    () => (t.settled = true),
    (e: unknown) => ((t.settled = true), (t.error = e)),
  );
  return t;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const subscribers = async (channel: string) => ((await redis.pubsub('NUMSUB', channel)) as [string, number])[1];
const stateOf = (o: { keyPrefix: string }, id: string) => redis.hget(`${o.keyPrefix}task-${id}`, 'state');

describe('an end that is not the runtime\'s does not end the wait', () => {
  it('an `end` forged on the events channel while the task runs does not resolve it; the real end does, from the hash', async () => {
    const o = server.options();
    const w = await worker(o);
    const g = gate();
    w.addTaskFunction('job', async () => {
      await g.opened;
      return 'real';
    });
    await w.start();
    const c = client(o);
    const id = await c.submit('job');
    await until(async () => (await stateOf(o, id)) === 'RUNNING', 'RUNNING');
    const waited = track(c.wait(id, { timeout: 10_000 }));
    const seen: TaskEvent[] = [];
    c.subscribe(id, (e) => seen.push(e));
    await until(async () => (await subscribers(`${o.keyPrefix}task-${id}-events`)) > 0, 'subscribed');

    const forged = [
      '{"event":"end","data":{}}',
      // the runtime's shape exactly, naming this task
      JSON.stringify({ event: 'end', data: { id, outcome: 'succeeded', result: 'forged' }, at: Date.now() }),
      JSON.stringify({ event: 'end', data: { id, outcome: 'failed', error: { name: 'Error', message: 'forged' }, parked: 'max_attempts' }, at: Date.now() }),
    ];
    for (const m of forged) await redis.publish(`${o.keyPrefix}task-${id}-events`, m);
    await until(() => seen.length === forged.length, 'the forged ends delivered');
    await sleep(200); // each one's re-read has come back RUNNING by now
    expect(waited.settled).toBe(false);

    g.open();
    const t = await waited.promise;
    expect(t).toMatchObject({ id, state: 'END', outcome: 'succeeded', result: 'real', worker: w.address });
    expect(t.fromEndEvent).toBeUndefined();
  });
});

describe('the hash is read again whenever an event may have been missed', () => {
  it('the subscriber loses its connection while the task ends: wait answers right after the reconnect, not at the next poll', async () => {
    const o = server.options();
    const w = await worker(o);
    const g = gate();
    w.addTaskFunction('job', async () => {
      await g.opened;
      return 'after the cut';
    });
    await w.start();
    const { proxy, c } = await clientBehindProxy(o);
    const id = await c.submit('job');
    await until(async () => (await stateOf(o, id)) === 'RUNNING', 'RUNNING');
    const channel = `${o.keyPrefix}task-${id}-events`;
    // The poll is a minute away: only the reconnect can make this wait answer in time.
    const waited = track(c.wait(id, { timeout: 20_000, pollInterval: 60_000 }));
    await until(async () => (await subscribers(channel)) > 0, 'subscribed');

    proxy.reset(); // the client's connections drop, and reconnects are refused until heal()
    await until(async () => (await subscribers(channel)) === 0, 'the subscriber gone from Redis');
    g.open();
    await until(async () => (await stateOf(o, id)) === 'END', 'END written (its end event published to no one)');
    await sleep(200);
    expect(waited.settled).toBe(false);

    const healed = Date.now();
    proxy.heal();
    expect(await waited.promise).toMatchObject({ id, state: 'END', outcome: 'succeeded', result: 'after the cut' });
    expect(Date.now() - healed).toBeLessThan(5000);
  });

  it('a task that ends with no event at all (as parking once did) is found by the poll', async () => {
    const o = server.options();
    const c = client(o);
    const key = `${o.keyPrefix}task-parked`;
    await redis.hset(key, 'state', 'QUEUED', 'attempt', '0', 'data', '{"id":"parked","function":"typo"}');
    const waited = track(c.wait('parked', { timeout: 5000, pollInterval: 100 }));
    await sleep(150);
    expect(waited.settled).toBe(false);
    // What the runtime writes when it parks a task: END, failed, the reason, an error.
    const error = { name: 'UnknownFunctionError', code: 'ERR_UNKNOWN_FUNCTION', message: 'no live worker serves "typo"' };
    await redis.hset(key, 'state', 'END', 'outcome', 'failed', 'parked', 'unknown_function', 'dead', '7', 'error', JSON.stringify(error), 'end', String(Date.now()));
    expect(await waited.promise).toMatchObject({ id: 'parked', state: 'END', outcome: 'failed', parked: { reason: 'unknown_function', key: '7' }, error });
  });
});

describe('a hash cleaned up at once (endRetention 0)', () => {
  it('is answered from the runtime\'s end event, marked fromEndEvent', async () => {
    const o = server.options();
    const m = new Monitor({ redis: o, endRetention: 0, checkTaskInterval: 50 });
    cleanup.push(() => m.stop());
    await m.start();
    const w = await worker(o);
    const g = gate();
    w.addTaskFunction('job', async () => {
      await g.opened;
      return 42;
    });
    await w.start();
    const { proxy, c } = await clientBehindProxy(o);
    const id = await c.submit('job');
    await until(async () => (await stateOf(o, id)) === 'RUNNING', 'RUNNING');
    const channel = `${o.keyPrefix}task-${id}-events`;
    const waited = track(c.wait(id, { timeout: 10_000, pollInterval: 60_000 }));
    await until(async () => (await subscribers(channel)) > 0, 'subscribed');
    await sleep(100); // the first read (RUNNING) is back

    // The end event reaches the client 300 ms late and its read reaches Redis 300 ms later
    // still; the monitor deletes the ended hash within its 50 ms sweep.
    proxy.delay(300);
    g.open();
    await until(async () => (await redis.exists(`${o.keyPrefix}task-${id}`)) === 0, 'the hash deleted by the monitor');
    const t = await waited.promise;
    expect(t).toMatchObject({ id, state: 'END', outcome: 'succeeded', result: 42, fromEndEvent: true, worker: w.address, attempt: 1, function: 'job' });
    expect(t.end).toBeGreaterThan(0);
  });
});

describe('a hash cleaned up at once, after an attempt the wait never read', () => {
  it("answers with the attempt and the worker the end event names, not the last read's", async () => {
    const o = server.options();
    const m = new Monitor({ redis: o, endRetention: 0, checkTaskInterval: 50, taskTimeout: 300 });
    cleanup.push(() => m.stop());
    await m.start();
    // attempt 1 on a worker process that is killed; attempt 2 here, ended and cleaned up before
    // any read of the waiting client (its link slowed) can see it
    const a = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 100 }, [], ['job2']);
    cleanup.push(() => a.kill());
    const { proxy, c } = await clientBehindProxy(o);
    const id = await c.submit('job2', { ms: 60_000 });
    await a.waitFor(new RegExp(`^STARTED ${id} 1`));
    const waited = track(c.wait(id, { timeout: 20_000, pollInterval: 60_000 }));
    await until(async () => (await subscribers(`${o.keyPrefix}task-${id}-events`)) > 0, 'subscribed');
    await sleep(100); // the first read (attempt 1, RUNNING) is back
    proxy.delay(1500);
    const b = await worker(o);
    b.addTaskFunction('job2', async () => 42);
    await b.start();
    await a.kill('SIGKILL');
    await until(async () => (await redis.exists(`${o.keyPrefix}task-${id}`)) === 0, 'attempt 2 ended and its hash deleted', 10_000);
    const t = await waited.promise;
    expect(t).toMatchObject({ id, state: 'END', outcome: 'succeeded', result: 42, fromEndEvent: true, attempt: 2, worker: b.address });
    // what the read saw of attempt 1 is not attempt 2's
    expect(t.start).toBeUndefined();
  }, 30_000);
});

describe('a wait that ends leaves nothing behind', () => {
  /** timers the process holds (setTimeout, setInterval) */
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

  it('rejects with a TimeoutError after `timeout`, and unsubscribes, clears its timers and listeners, resolved or not', async () => {
    const o = server.options();
    const c = client(o);
    const internals = c as unknown as { sub: Redis; reconnects: Set<unknown>; waits: Set<unknown>; subRefused: Set<unknown> };
    c.subscribe('warm-up', () => {})(); // opens the subscriber connection before the baseline
    await until(() => internals.sub.status === 'ready', 'subscriber ready');
    const baseline = { timers: timers(), ready: internals.sub.listenerCount('ready') };
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    cleanup.push(async () => process.off('warning', onWarning));

    const t0 = Date.now();
    const err = await c.wait('never', { timeout: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toBe('task "never" did not end within 300 ms');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);

    // Some end from the first read, some from an event, some time out; all at once.
    await redis.hset(`${o.keyPrefix}task-done`, 'state', 'END', 'outcome', 'succeeded', 'result', '1');
    await redis.hset(`${o.keyPrefix}task-later`, 'state', 'RUNNING');
    const later = c.wait('later', { timeout: 5000 });
    const many = Array.from({ length: 20 }, (_, i) => c.wait(`many-${i}`, { timeout: 200 }));
    const all = Promise.allSettled([c.wait('done'), later, c.wait('never', { timeout: 200 }), c.wait('never', { timeout: 250 }), c.wait('done', { timeout: 5000 }), ...many]);
    await until(async () => (await subscribers(`${o.keyPrefix}task-later-events`)) > 0, 'subscribed');
    await redis.hset(`${o.keyPrefix}task-later`, 'state', 'END', 'outcome', 'succeeded', 'result', '2');
    await redis.publish(`${o.keyPrefix}task-later-events`, '{"event":"end","data":{"id":"later","outcome":"succeeded","result":2},"at":1}');
    expect((await all).map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled', ...many.map(() => 'rejected')]);

    for (const id of ['never', 'done', 'later']) expect(await subscribers(`${o.keyPrefix}task-${id}-events`), id).toBe(0);
    expect(internals.sub.listenerCount('ready')).toBe(baseline.ready);
    expect(internals.reconnects.size).toBe(0);
    expect(internals.subRefused.size).toBe(0);
    expect(internals.waits.size).toBe(0);
    expect(warnings.map((w) => w.message)).toEqual([]); // e.g. no MaxListenersExceededWarning
    await until(() => timers() <= baseline.timers, 'timers back to the baseline', 2000);
  });

  it('close() rejects a pending wait with a StateError rather than leave it to poll forever', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    const waited = c.wait('never').catch((e: unknown) => e);
    await until(async () => (await subscribers(`${o.keyPrefix}task-never-events`)) > 0, 'subscribed');
    await c.close();
    const err = await waited;
    expect(err).toBeInstanceOf(StateError);
    expect((err as Error).message).toContain('closed while waiting for task "never"');
  });
});

describe('get answers whatever the hash holds', () => {
  it('a hash edited by hand: every field it cannot read is passed through as stored, in `invalid`', async () => {
    const o = server.options();
    const c = client(o);
    const raw = {
      state: 'WEIRD',
      attempt: 'abc',
      start: '',
      update: '12x',
      end: '1e999',
      outcome: 'maybe',
      result: '{not json',
      error: '"just a string"',
      history: '[broken',
      data: 'nope',
      manual_end: 'yes',
      worker: 'somewhere:1',
    };
    await redis.hset(`${o.keyPrefix}task-junk`, raw);
    const t = await c.get('junk');
    const { worker: _w, manual_end: _m, ...unreadable } = raw;
    const { data: _d, ...invalid } = unreadable;
    expect(t).toEqual({ id: 'junk', state: 'WEIRD', attempt: 0, manualEnd: false, worker: 'somewhere:1', raw: 'nope', invalid });
    await expect(c.wait('junk', { timeout: 200 })).rejects.toThrow(TimeoutError);
  });

  it('a key of another type under the task\'s name is reported, not thrown', async () => {
    const o = server.options();
    const c = client(o);
    await redis.set(`${o.keyPrefix}task-str`, 'hello');
    expect(await c.get('str')).toMatchObject({ id: 'str', state: '', attempt: 0, invalid: { key: expect.stringMatching(/WRONGTYPE/) } });
  });

  it('any generated hash: get returns a TaskInfo with typed fields or the junk in `invalid`, and never throws', async () => {
    const o = server.options();
    const c = client(o);
    const fields = ['state', 'attempt', 'start', 'update', 'end', 'outcome', 'result', 'error', 'history', 'data', 'manual_end', 'worker', 'parked', 'lease', 'x'];
    const value = fc.oneof(fc.string(), fc.json(), fc.constantFrom('END', 'RUNNING', 'QUEUED', 'succeeded', '1', 'NaN', '-0', '1e400', '[]', '{}', 'null'));
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.constantFrom(...fields), value, { minKeys: 1 }), async (h) => {
        const id = `gen-${++n}`;
        await redis.hset(`${o.keyPrefix}task-${id}`, h);
        const t = (await c.get(id)) as TaskInfo;
        expect(t.id).toBe(id);
        expect(typeof t.state).toBe('string');
        expect(Number.isFinite(t.attempt)).toBe(true);
        for (const k of ['start', 'update', 'end'] as const) if (t[k] !== undefined) expect(Number.isFinite(t[k])).toBe(true);
        if (t.outcome !== undefined) expect(['succeeded', 'failed', 'stopped']).toContain(t.outcome);
        if (t.error !== undefined) expect(typeof t.error.message).toBe('string');
        if (t.history !== undefined) expect(Array.isArray(t.history)).toBe(true);
        for (const [k, v] of Object.entries(t.invalid ?? {})) expect(v).toBe(k === 'state' && h.state === undefined ? '' : h[k]);
        if (h.data !== undefined) expect(t.raw).toBe(h.data);
      }),
      { numRuns: 100 },
    );
  });
});

describe('a task this wait saw, then found gone for good', () => {
  it('rejects with a TaskNotFoundError naming it once every read has found it gone for `goneAfter` ms (no end heard)', async () => {
    const o = server.options();
    const c = client(o);
    const id = await c.submit('nobody-serves', null); // queued: no worker
    const waiting = track(c.wait(id, { goneAfter: 400, pollInterval: 50 }));
    await sleep(150); // seen QUEUED
    // lost as Redis without persistence loses it (or deleted by hand): its entry and its mark
    await redis.del(`${o.keyPrefix}new-task`, `${o.keyPrefix}new-task:queued`);
    const gone = performance.now();
    const err = await waiting.promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TaskNotFoundError);
    expect((err as TaskNotFoundError).taskId).toBe(id);
    expect((err as Error).message).toMatch(new RegExp(`task "${id}" is gone: seen QUEUED`));
    expect(performance.now() - gone).toBeGreaterThanOrEqual(350);
    expect(await subscribers(`${o.keyPrefix}task-${id}-events`)).toBe(0);
  });

  it('a hash gone for less than `goneAfter` and back (as a worker re-asserts a running task after Redis lost it) does not end the wait: its real end does', async () => {
    const o = server.options();
    const c = client(o);
    const id = await c.submit('later', null, { delay: 60_000 }); // its hash written: DELAYED
    const waiting = track(c.wait(id, { goneAfter: 1000, pollInterval: 50 }));
    await sleep(150);
    const key = `${o.keyPrefix}task-${id}`;
    const hash = await redis.hgetall(key);
    await redis.del(key);
    await sleep(600);
    expect(waiting.settled).toBe(false);
    await redis.hset(key, hash);
    await sleep(900); // past goneAfter from the first read that found it gone
    expect(waiting.settled).toBe(false);
    await c.cancel(id);
    expect(await waiting.promise).toMatchObject({ id, state: 'END', outcome: 'cancelled' });
  });

  it('a task never seen (a wait begun before its submit) is waited for, however long', async () => {
    const o = server.options();
    const c = client(o);
    const waiting = track(c.wait('not-yet', { goneAfter: 100, pollInterval: 30 }));
    await sleep(500);
    expect(waiting.settled).toBe(false);
    const id = await c.submit('later', null, { id: 'not-yet' });
    const w = await worker(o);
    w.addTaskFunction('later', async () => 'came');
    await w.start();
    expect(await waiting.promise).toMatchObject({ id, state: 'END', result: 'came' });
  });

  // (goneAfter counts what Redis answered, not when the answer came: a read that found the
  // task gone, its reply slow on its way back, says it was gone when Redis ran it, no later)
  it('a read that found it gone, its reply late, counts to when it was sent: the task back meanwhile is waited for, to its real end', async () => {
    const o = server.options();
    const { proxy, c } = await clientBehindProxy(o);
    const id = await c.submit('later', null, { delay: 60_000 }); // its hash written: DELAYED
    // (reads only when the test hints: the poll far away)
    const waiting = track(c.wait(id, { goneAfter: 1000, pollInterval: 60_000 }));
    await sleep(200); // seen DELAYED
    const key = `${o.keyPrefix}task-${id}`;
    const hint = () => redis.publish(`${key}-events`, JSON.stringify({ event: 'progress', data: { id }, at: Date.now() }));
    const hash = await redis.hgetall(key);
    await redis.del(key); // lost (as Redis restarted empty loses it)
    await hint(); // a read finds it gone: the count starts
    await sleep(100);
    // The next read runs in Redis at once and finds it gone still; its reply is held on its way.
    expect(proxy.hold((hello) => hello.includes(':command'))).toBe(1);
    await hint();
    await sleep(100);
    await redis.hset(key, hash); // back within 200 ms (as a worker re-asserts it)
    await sleep(1100); // past goneAfter since the first read found it gone
    proxy.heal(); // the late reply arrives: gone, as Redis found it 1.2 s ago
    await sleep(300);
    expect(waiting.error).toBeUndefined();
    expect(waiting.settled).toBe(false);
    await c.cancel(id);
    expect(await waiting.promise).toMatchObject({ id, state: 'END', outcome: 'cancelled' });
  });

  // (an end heard while the read that judges the task gone is on its way: that read began
  // before the end, and cannot tell "gone after the end" from "gone"; the read after it answers,
  // from the end event, as for any hash cleaned up at once after its end)
  it('an end heard while the read that finds it gone is on its way is answered from the end event, not rejected as gone', async () => {
    const o = server.options();
    const m = new Monitor({ redis: o, endRetention: 0, checkTaskInterval: 50 });
    cleanup.push(() => m.stop());
    await m.start();
    // (no heartbeat within the test: the hash is lost and put back by hand, as Redis's restart
    // and the worker's re-assertion would)
    const w = new Worker({ port: 0, redis: o, heartbeatInterval: 30_000 });
    cleanup.push(() => w.stop());
    const g = gate();
    w.addTaskFunction('job', async () => {
      await g.opened;
      return 'real';
    });
    await w.start();
    const { proxy, c } = await clientBehindProxy(o);
    const id = await c.submit('job');
    const key = `${o.keyPrefix}task-${id}`;
    await until(async () => (await redis.hget(key, 'state')) === 'RUNNING', 'RUNNING');
    const waiting = track(c.wait(id, { goneAfter: 1000, pollInterval: 60_000 }));
    await sleep(200); // seen RUNNING

    const hash = await redis.hgetall(key);
    await redis.del(key); // lost
    const hinted = performance.now();
    await redis.publish(`${key}-events`, JSON.stringify({ event: 'progress', data: { id }, at: Date.now() })); // a read finds it gone
    await sleep(900);
    // The read that judges it, sent once goneAfter has passed (this process held past it, so
    // that the read is sent past it, not at it), finds it gone; its reply is held.
    expect(proxy.hold((hello) => hello.includes(':command'))).toBe(1);
    while (performance.now() - hinted < 1150); // (held: the wait's timers wait too)
    await sleep(200);
    // Back (re-asserted), it ends: its end event heard, its hash cleaned up at once.
    await redis.hset(key, hash);
    g.open();
    await until(async () => (await redis.exists(key)) === 0, 'ended and cleaned up');
    await sleep(100);
    expect(waiting.settled).toBe(false);
    proxy.heal();
    expect(await waiting.promise).toMatchObject({ id, state: 'END', outcome: 'succeeded', result: 'real', fromEndEvent: true });
  });

  it('goneAfter 0 waits for it to come back, however long', async () => {
    const o = server.options();
    const c = client(o);
    const id = await c.submit('nobody-serves', null);
    const waiting = track(c.wait(id, { goneAfter: 0, pollInterval: 30 }));
    await sleep(150);
    await redis.del(`${o.keyPrefix}new-task`, `${o.keyPrefix}new-task:queued`);
    await sleep(600);
    expect(waiting.settled).toBe(false);
  });

  it.each([-1, 'soon', 2 ** 31])('refuses goneAfter %s, naming it', async (v) => {
    const c = client(server.options());
    await expect(c.wait('x', { goneAfter: v as number })).rejects.toThrow(/wait: goneAfter must be a number of ms between 0 and/);
  });
});
