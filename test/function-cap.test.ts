/**
 * A per-worker cap on one function (issue 9): `addTaskFunction(name, fn, { concurrency })` keeps
 * at most that many of its tasks running at once on that worker, while its other slots go to
 * other functions; and a slot the capped function frees is taken again at once, not at the next
 * poll.
 */
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
/** Far longer than the test: work taken in time was not found by a poll. */
const POLL = 30_000;

/** what ran on a worker: how many of each function at once, at most, and when each task ended */
function recorder() {
  const now = new Map<string, number>();
  const most = new Map<string, number>();
  let total = 0;
  let mostTotal = 0;
  /** the most tasks running at once while `fn` was at its most */
  const mixed = new Map<string, number>();
  const ended: string[] = [];
  const run = (fn: string) => async (task: { id: string; data: unknown }) => {
    now.set(fn, (now.get(fn) ?? 0) + 1);
    total++;
    mostTotal = Math.max(mostTotal, total);
    most.set(fn, Math.max(most.get(fn) ?? 0, now.get(fn)!));
    for (const [f, n] of now) if (n === most.get(f)) mixed.set(f, Math.max(mixed.get(f) ?? 0, total));
    await new Promise((r) => setTimeout(r, (task.data as { ms: number }).ms));
    now.set(fn, now.get(fn)! - 1);
    total--;
    ended.push(task.id);
    return fn;
  };
  return { run, most, mixed, ended, mostTotal: () => mostTotal };
}

async function start(functions: Record<string, { concurrency?: number }>, rec: ReturnType<typeof recorder>, concurrency = 8) {
  const o = server.options();
  const c = new Client({ redis: o });
  const w = new Worker({ port: 0, redis: o, concurrency, fetchTaskInterval: POLL, logger: quiet });
  for (const [name, opts] of Object.entries(functions)) w.addTaskFunction(name, rec.run(name), opts);
  cleanup.push(() => c.close(), () => w.stop());
  await w.start();
  return { c, w, o };
}

describe('addTaskFunction { concurrency }', () => {
  it('caps its function on the worker while the other functions fill the other slots', async () => {
    const rec = recorder();
    const { c } = await start({ x: { concurrency: 2 }, y: {}, z: {} }, rec);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await c.submit('x', { ms: 150 }));
    for (let i = 0; i < 12; i++) ids.push(await c.submit(i % 2 ? 'y' : 'z', { ms: 300 }));
    for (let i = 0; i < 4; i++) ids.push(await c.submit('x', { ms: 150 }));
    // 14 x, two at a time, take ~1 s; a freed x slot left to the 30 s poll would take far longer
    await until(() => rec.ended.length === ids.length, 'every task ended', 5000);
    expect(rec.most.get('x')).toBe(2);
    expect(rec.mostTotal(), 'the other slots were used').toBe(8);
    expect(rec.mixed.get('x'), 'x at its cap while the others filled the rest').toBe(8);
    for (const id of ids) expect(await c.get(id)).toMatchObject({ state: 'END', outcome: 'succeeded', attempt: 1 });
  });

  it("takes the capped function's next task as soon as one of its slots is free, when it is all the worker serves", async () => {
    const rec = recorder();
    const { c } = await start({ x: { concurrency: 2 } }, rec);
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push(await c.submit('x', { ms: 100 }));
    const t0 = Date.now();
    await until(() => rec.ended.length === ids.length, 'every task ended', 5000);
    expect(rec.most.get('x')).toBe(2);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it("keeps each capped function of a worker to its own cap, and another worker's cap on the same function to its own", async () => {
    const a = recorder();
    const b = recorder();
    const { c, o } = await start({ x: { concurrency: 1 }, y: { concurrency: 3 } }, a);
    const w2 = new Worker({ port: 0, redis: o, concurrency: 8, fetchTaskInterval: POLL, logger: quiet });
    w2.addTaskFunction('x', b.run('x'), { concurrency: 2 });
    cleanup.push(() => w2.stop());
    await w2.start();
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push(await c.submit(i % 2 ? 'x' : 'y', { ms: 120 }));
    await until(() => a.ended.length + b.ended.length === ids.length, 'every task ended', 5000);
    expect(a.most.get('x') ?? 0).toBeLessThanOrEqual(1);
    expect(a.most.get('y')).toBe(3);
    expect(b.most.get('x') ?? 0).toBeLessThanOrEqual(2);
    expect(a.ended.length + b.ended.length).toBe(12);
  });
});
