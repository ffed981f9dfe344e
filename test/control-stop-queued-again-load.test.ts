/**
 * Control stops at random moments among tasks queued again after a claim, under load: workers
 * stop (handing their tasks back) and start again all along, tasks have groups under a
 * concurrency limit and dedupe keys. Whatever each stop answered, no run of its task starts
 * after a `cancelled` answer, and none but the run it found (a claim's reply may still be on its
 * way, its function started after the answer) after a `stopping` one; a `cancelled` task ends
 * cancelled, nothing strands, no id runs twice at once, and no slot, group turn, queue entry or
 * dedupe key is left held. (No timing allowance: what is counted is runs, not milliseconds.)
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker, type ControlResult } from '../src/index.js';
import { expectNoneRunning } from './helpers/limits.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('control stops among tasks queued again, under load', () => {
  it('no run after a stop said cancelled or stopping; nothing stranded, run twice at once, or left held', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    for (const g of ['g0', 'g1', 'g2']) await c.setLimit({ group: g }, { concurrency: 2 });
    const starts = new Map<string, number[]>();
    const running = new Map<string, number>();
    let overlap = 0;
    const fn = (t: { id: string; signal: AbortSignal }) =>
      new Promise((resolve, reject) => {
        const n = (running.get(t.id) ?? 0) + 1;
        if (n > 1) overlap++;
        running.set(t.id, n);
        starts.set(t.id, [...(starts.get(t.id) ?? []), Date.now()]);
        const done = () => running.set(t.id, (running.get(t.id) ?? 1) - 1);
        const timer = setTimeout(
          () => {
            done();
            resolve('ok');
          },
          200 + Math.floor(Math.random() * 400),
        );
        t.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          done();
          reject(new Error('aborted'));
        });
      });
    let cycling = true;
    const cycle = async () => {
      while (cycling) {
        const w = new Worker({ port: 0, redis: o, heartbeatInterval: 100, stopGrace: 20 });
        w.addTaskFunction('job', fn, { concurrency: 4 });
        await w.start();
        await sleep(100 + Math.floor(Math.random() * 200));
        await w.stop();
      }
    };
    const cyclers = [cycle(), cycle()];

    const ids: string[] = [];
    for (let i = 0; i < 90; i++) ids.push(await c.submit('job', null, { group: `g${i % 3}`, key: `k${i}` }));
    const said = new Map<string, { r: ControlResult; at: number }>();
    await Promise.all(
      ids.map(async (id, i) => {
        if (i % 3 === 2) return;
        // (once it has run: a stop then finds it running, queued again, or ended)
        await until(async () => starts.has(id), 'its first run', 30_000);
        await sleep(Math.floor(Math.random() * 600));
        const r = await c.control(id, 'stop');
        said.set(id, { r, at: Date.now() });
      }),
    );
    cycling = false;
    await Promise.all(cyclers);
    const last = new Worker({ port: 0, redis: o, heartbeatInterval: 100 });
    last.addTaskFunction('job', fn, { concurrency: 8 });
    cleanup.push(() => last.stop());
    await last.start();
    for (const id of ids) await c.wait(id, { timeout: 20_000 });

    const wrong: string[] = [];
    for (const [id, { r, at }] of said) {
      const t = await c.get(id);
      const after = (starts.get(id) ?? []).filter((s) => s > at);
      // cancelled: no claim had it at the stop, and none takes it after; stopping: the claim that
      // had it may start its function after the answer (its reply on its way), but no other does
      if (r === 'cancelled' && after.length) wrong.push(`${id}: cancelled, then a run started ${after[0]! - at} ms later`);
      if (r === 'stopping' && after.length > 1) wrong.push(`${id}: stopping, then ${after.length} runs started after it`);
      if (r === 'cancelled' && t?.outcome !== 'cancelled') wrong.push(`${id}: cancelled, ended ${t?.outcome}`);
    }
    expect(wrong).toEqual([]);
    expect(overlap).toBe(0);
    await expectNoneRunning(redis, o.keyPrefix!);
    expect(await redis.keys(`${o.keyPrefix}new-task:f:*`)).toEqual([]);
    expect(await redis.hgetall(`${o.keyPrefix}new-task:keys`)).toEqual({});
    // (most stops find their task running; a few find it queued again, handed back, and cancel it)
    expect([...said.values()].some(({ r }) => r === 'stopping')).toBe(true);
  }, 90_000);
});
