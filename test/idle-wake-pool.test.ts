/**
 * Idle workers wake per function (issue 9), a pool of processes: an idle worker blocks on the queue and wakes on any
 * push, but the entry may be routed into its function's structure by another worker's claim
 * before this worker blocks again. Each new task must still start at once, by a worker that
 * serves it, however long the poll interval (fetchTaskInterval) is.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client } from '../src/index.js';
import { spawnWorker, type WorkerProcess } from './helpers/processes.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

/** Far longer than the test: a task that starts in time was not found by a poll. */
const POLL = 30_000;

/** a worker process serving `fn` alone (it prints `STARTED <id> <attempt> <fn>`, `DONE <id> <fn>`) */
async function worker(o: object, fn: string): Promise<WorkerProcess> {
  const p = await spawnWorker({ port: 0, redis: o, concurrency: 2, fetchTaskInterval: POLL }, [], { [fn]: {} });
  cleanup.push(() => p.kill());
  return p;
}

/** when (parent's Date.now()) the worker process said it started task `id`, or undefined */
function startedAt(p: WorkerProcess, id: string): number | undefined {
  const i = p.lines.findIndex((l) => l.startsWith(`STARTED ${id} `));
  return i < 0 ? undefined : p.times[i];
}

const startedFns = (p: WorkerProcess) => p.lines.filter((l) => l.startsWith('STARTED ')).map((l) => l.split(' ')[3]);

/** let the idle workers settle into their blocking wait */
const idle = () => new Promise((r) => setTimeout(r, 300));

describe('an idle pool serving different functions', () => {
  it('starts each new task within a second, by a worker that serves it, whatever the poll interval', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const keys = keysFor(o.keyPrefix);
    const [resize, mail, report] = await Promise.all(['resize', 'mail', 'report'].map((fn) => worker(o, fn)));
    const pool: Record<string, WorkerProcess> = { resize: resize!, mail: mail!, report: report! };
    const late: string[] = [];
    let n = 0;
    // rounds of one task per function, back to back (each push wakes every idle worker, and
    // whichever claims first routes the others' tasks: they must still be picked up), then
    // one at a time, and by hand
    for (let round = 0; round < 6; round++) {
      await idle();
      const order = round % 2 ? ['report', 'mail', 'resize'] : ['resize', 'mail', 'report'];
      const sent: { id: string; fn: string; at: number }[] = [];
      for (const fn of round === 5 ? order.slice(0, 1) : order) {
        const id = `t${n++}-${fn}`;
        const at = Date.now();
        if (round >= 4) await redis.lpush(keys.newQueue, JSON.stringify({ id, function: fn, data: { ms: 5 } }));
        else await c.submit(fn, { ms: 5 }, { id });
        sent.push({ id, fn, at });
        if (round === 3) await new Promise((r) => setTimeout(r, 150));
      }
      for (const { id, fn, at } of sent) {
        await pool[fn]!.waitFor(new RegExp(`^DONE ${id} `), 3000).catch(() => {});
        const t = startedAt(pool[fn]!, id);
        if (t === undefined || t - at > 1000) late.push(`${id}: ${t === undefined ? 'not started within 3 s' : `started after ${t - at} ms`}`);
      }
    }
    expect(late).toEqual([]);
    for (const [fn, p] of Object.entries(pool)) expect(new Set(startedFns(p))).toEqual(new Set([fn]));
  });
});
