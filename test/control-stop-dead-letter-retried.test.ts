/**
 * (Passes: a guard.) A dead letter retried puts its task back QUEUED with no place, its entry on
 * `new-task`, its `claims` kept: a stop finds it between two attempts and cancels it, marked
 * `unrouted` (cancel.lua). The claim that routes its entry then drops it: it does not run, is
 * not parked again as a duplicate of its own ended hash (a new dead letter), and its dedupe key,
 * taken again by the retry, is free.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { killedAsItRan, startQuickMonitor } from './helpers/queued-again.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a stop of a task whose dead letter was retried', () => {
  it('cancelled; the claim that routes its entry drops it: no run, no new dead letter, its key free', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await killedAsItRan(o, c, cleanup, { options: { key: 'k' } });
    const m = await startQuickMonitor(o, cleanup, { maxAttempts: 1 });
    const [letter] = await until(async () => {
      const l = await c.deadLetters();
      return l.length ? l : null;
    }, 'the task parked');
    await m.stop();
    expect(await c.retryDead(letter!)).toBe(true);
    expect(await c.get(id)).toMatchObject({ state: 'QUEUED', attempt: 0 });
    expect(await redis.hgetall(`${o.keyPrefix}new-task:keys`)).toEqual({ k: id });

    expect(await c.control(id, 'stop')).toBe('cancelled');
    let runs = 0;
    const w = new Worker({ port: 0, redis: o });
    w.addTaskFunction('sleep', async () => {
      runs++;
      return 'ran';
    });
    cleanup.push(() => w.stop());
    await w.start();
    await until(async () => (await redis.llen(`${o.keyPrefix}new-task`)) === 0, 'its entry taken off new-task');
    await sleep(300);
    expect(runs).toBe(0);
    expect(await c.get(id)).toMatchObject({ state: 'END', outcome: 'cancelled' });
    expect(await c.deadLetters()).toEqual([]);
    expect(await redis.hgetall(`${o.keyPrefix}new-task:keys`)).toEqual({});
  }, 30_000);
});
