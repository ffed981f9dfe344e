/**
 * Routing by function (issue 9): a worker claims only tasks of the functions it has. In a mixed
 * pool of worker processes that serve different functions, every task runs once, on a worker
 * that has its function, never bounced nor parked, FIFO within a function; a task of a function
 * no live worker serves waits QUEUED until one joins; entries pushed by hand in the seed's
 * format are routed alike; a function added to a running worker gets its waiting tasks at once.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Worker } from '../src/index.js';
import { spawnWorker, type WorkerProcess } from './helpers/processes.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
/** Far longer than any wait below: a task that starts in time was not found by a poll. */
const POLL = 30_000;

type Functions = Record<string, { concurrency?: number }>;

/** a worker process serving `functions` (each prints `STARTED <id> <attempt> <fn>`, `DONE <id> <fn>`) */
async function worker(o: object, functions: Functions, concurrency: number): Promise<WorkerProcess> {
  const p = await spawnWorker({ port: 0, redis: o, concurrency, fetchTaskInterval: POLL }, [], functions);
  cleanup.push(() => p.kill());
  return p;
}

function client(o: { keyPrefix: string }) {
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return { c, keys: keysFor(o.keyPrefix) };
}

/** the tasks a worker process started, in the order it started them */
const starts = (p: WorkerProcess) =>
  p.lines.flatMap((l) => {
    const m = /^STARTED (\S+) (\d+) (\S+)$/.exec(l);
    return m ? [{ id: m[1]!, attempt: Number(m[2]), fn: m[3]! }] : [];
  });

/** when (parent's Date.now()) the worker process said it started task `id`, or undefined */
function startedAt(p: WorkerProcess, id: string): number | undefined {
  const i = p.lines.findIndex((l) => l.startsWith(`STARTED ${id} `));
  return i < 0 ? undefined : p.times[i];
}

/** a task the seed's way: its JSON pushed on the queue by hand */
function push(keys: ReturnType<typeof keysFor>, id: string, fn: string, data: unknown) {
  return redis.lpush(keys.newQueue, JSON.stringify({ id, function: fn, data }));
}

/** let the idle workers settle into their blocking wait */
const idle = () => new Promise((r) => setTimeout(r, 300));

describe('a mixed pool of worker processes serving different functions', () => {
  it('runs every task exactly once, only where its function is served, FIFO within a function, hand-pushed entries alike; a function nobody serves waits QUEUED for a fourth worker', async () => {
    const o = server.options();
    const { c, keys } = client(o);
    const FNS = ['resize', 'mail', 'report'];
    const plan: { id: string; fn: string }[] = [];
    let n = 0;
    // every fourth task is pushed by hand, in the seed's format
    const add = async () => {
      const fn = FNS[n % 3]!;
      const data = { ms: 15 };
      const id = n % 4 === 3 ? `hand-${n}` : await c.submit(fn, data, { id: `sub-${n}` });
      if (id.startsWith('hand-')) await push(keys, id, fn, data);
      plan.push({ id, fn });
      n++;
    };
    for (let i = 0; i < 30; i++) await add();

    // A serves resize, B mail alone, C resize and report, one at a time: mail's order is B's
    // start order, report's is C's
    const fnsOf: Functions[] = [{ resize: {} }, { mail: {} }, { resize: {}, report: {} }];
    const pool = await Promise.all([worker(o, fnsOf[0]!, 2), worker(o, fnsOf[1]!, 1), worker(o, fnsOf[2]!, 1)]);
    // and more while they run
    for (let i = 0; i < 30; i++) {
      await add();
      await new Promise((r) => setTimeout(r, 5));
    }

    await until(() => pool.reduce((s, p) => s + p.lines.filter((l) => l.startsWith('DONE ')).length, 0) >= plan.length, `all ${plan.length} tasks done`, 20_000);
    for (const { id } of plan) await c.wait(id, { timeout: 5000 });
    await new Promise((r) => setTimeout(r, 200)); // a task run twice would show now

    for (const { id, fn } of plan) {
      const ranOn = pool.filter((p) => starts(p).some((s) => s.id === id));
      expect(ranOn.length, `${id} (${fn}) started on ${ranOn.length} workers`).toBe(1);
      const p = ranOn[0]!;
      expect(Object.keys(fnsOf[pool.indexOf(p)]!), `${id} ran on a worker that serves ${fn}`).toContain(fn);
      expect(starts(p).filter((s) => s.id === id)).toEqual([{ id, attempt: 1, fn }]);
      const info = await c.get(id);
      expect(info, id).toMatchObject({ state: 'END', outcome: 'succeeded', attempt: 1, function: fn, worker: p.address, result: { ran: fn, by: p.address } });
      // one attempt, the one that ran: never claimed by another worker before
      expect(info!.history, `${id} was never claimed by another worker`).toEqual([expect.objectContaining({ attempt: 1, worker: p.address, outcome: 'succeeded' })]);
      // one claim in all: nobody took it and gave it back
      expect(await redis.hget(keys.task(id), 'claims'), id).toBe('1');
    }
    const [, b, cw] = pool;
    expect(starts(b!).map((s) => s.id)).toEqual(plan.filter((t) => t.fn === 'mail').map((t) => t.id));
    expect(starts(cw!).filter((s) => s.fn === 'report').map((s) => s.id)).toEqual(plan.filter((t) => t.fn === 'report').map((t) => t.id));
    const stats = await c.stats();
    expect(stats.dead, 'nothing parked').toBe(0);
    expect(stats.queued).toBe(0);
    for (const fn of FNS) expect(stats.functions[fn]).toMatchObject({ queued: 0, running: 0, paused: false });
    expect(stats.functions.resize!.workers).toBe(2);
    expect(stats.functions.mail!.workers).toBe(1);
    expect(stats.functions.report!.workers).toBe(1);

    // A task of a function nobody serves: routed, and waiting QUEUED, not parked, not bounced
    await idle();
    await c.submit('thumb', { ms: 10 }, { id: 'thumb-1' });
    await push(keys, 'thumb-hand', 'thumb', { ms: 10 });
    const waiting = await until(async () => {
      const s = await c.stats();
      return s.queued === 0 && s.functions.thumb?.queued === 2 ? s : undefined;
    }, 'the thumb tasks routed');
    expect(waiting.functions.thumb).toEqual({ queued: 2, running: 0, delayed: 0, workers: 0, paused: false });
    await new Promise((r) => setTimeout(r, 500));
    for (const t of ['thumb-1', 'thumb-hand']) expect(await c.get(t), t).toMatchObject({ state: 'QUEUED', attempt: 0, function: 'thumb' });
    expect((await c.stats()).dead, 'not parked').toBe(0);

    // until a fourth worker comes with thumb: its first claim takes them, in their order
    const d = await worker(o, { thumb: {} }, 1);
    const ready = d.times[d.lines.findIndex((l) => l.startsWith('READY '))]!;
    await d.waitFor(/^DONE thumb-hand /, 5000);
    for (const t of ['thumb-1', 'thumb-hand']) {
      expect(startedAt(d, t)! - ready, `${t} started within 1 s of the worker's start`).toBeLessThan(1000);
      expect(await c.wait(t, { timeout: 5000 })).toMatchObject({ state: 'END', outcome: 'succeeded', attempt: 1, worker: d.address });
      expect(await redis.hget(keys.task(t), 'claims')).toBe('1');
    }
    expect(starts(d).map((s) => s.id)).toEqual(['thumb-1', 'thumb-hand']);
    expect((await c.stats()).functions.thumb).toEqual({ queued: 0, running: 0, delayed: 0, workers: 1, paused: false });
    for (const p of pool) expect(starts(p).filter((s) => s.fn === 'thumb')).toEqual([]);

    // Nothing was refused, parked or found unrunnable. (A heartbeat that crosses a task's END
    // warns "lease lost" for it: renew.lua finds it ended. That race is not routing's, and the
    // task ran once and ended, as checked above.)
    const ended = new Set(plan.map((t) => t.id));
    const noise = (l: string) => ended.has(/^WARN lease lost for (\S+): /.exec(l)?.[1] ?? '');
    for (const p of [...pool, d]) expect(p.lines.filter((l) => /^(WARN|ERROR) /.test(l) && !noise(l))).toEqual([]);
  });
});

describe('a running worker given a new function (a rolling deploy in one process)', () => {
  it("starts that function's waiting tasks at once, not at its next poll", async () => {
    const o = server.options();
    const { c } = client(o);
    const w = new Worker({ port: 0, redis: o, fetchTaskInterval: POLL, logger: quiet });
    w.addTaskFunction('resize', async () => 'resized');
    cleanup.push(() => w.stop());
    await w.start();
    const id = await c.submit('thumb', { n: 1 });
    await until(async () => (await c.stats()).functions.thumb?.queued === 1, 'the thumb task routed');
    await idle();
    let started = 0;
    const added = Date.now();
    w.addTaskFunction('thumb', async (t) => {
      started = Date.now();
      return t.data;
    });
    expect(await c.wait(id, { timeout: 5000 })).toMatchObject({ state: 'END', outcome: 'succeeded', result: { n: 1 } });
    expect(started - added).toBeLessThan(1000);
    expect((await c.stats()).functions.thumb).toEqual({ queued: 0, running: 0, delayed: 0, workers: 1, paused: false });
  });
});
