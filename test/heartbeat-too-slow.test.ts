/**
 * A worker's heartbeatInterval and the monitors' taskTimeout are set apart, on different
 * processes. A worker that heartbeats too seldom for the monitors had its healthy tasks requeued
 * as dead and run twice, and nothing said why. The monitors write their taskTimeout into Redis
 * (the outage hash, requeue.lua); the worker reads it back at registration and with each renew,
 * and warns, once per value, when its heartbeatInterval is more than taskTimeout/4.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Monitor, Worker, type Task } from '../src/index.js';
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

/** a logger that keeps the warnings about heartbeatInterval */
function warnings() {
  const seen: string[] = [];
  return { seen, logger: { ...quiet, warn: (m: unknown) => void (String(m).includes('heartbeatInterval') && seen.push(String(m))) } };
}

async function monitor(o: Record<string, unknown>, taskTimeout: number): Promise<Monitor> {
  const m = new Monitor({ redis: o, logger: quiet, taskTimeout, checkTaskInterval: 100 });
  await m.start();
  return m;
}

describe("a worker's heartbeatInterval against the monitors' taskTimeout", () => {
  it('too slow: warned at start, naming both values, once; warned again when the monitors come back with another taskTimeout', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    let m = await monitor(o, 2000);
    cleanup.push(() => m.stop());
    await until(async () => (await redis.hget(keys.outage, 'timeout')) === '2000', "the monitors' taskTimeout in Redis");

    const { seen, logger } = warnings();
    const w = new Worker({ port: 0, redis: o, logger, heartbeatInterval: 1000 });
    let updates = 0;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    w.addTaskFunction('steady', async (task: Task) => {
      // renews of its own besides the heartbeats: each reads the timeout again
      for (let i = 0; i < 3; i++) {
        await task.update(i);
        updates++;
      }
      await released;
      return 'ok';
    });
    const c = new Client({ redis: o });
    cleanup.push(
      () => c.close(),
      async () => {
        release();
        await w.stop();
      },
    );
    await w.start();
    expect(seen).toHaveLength(1);
    expect(seen[0]).toContain('heartbeatInterval 1000 ms');
    expect(seen[0]).toContain("taskTimeout (2000 ms)");
    expect(seen[0]).toContain('requeued as dead while it runs, and runs twice');
    expect(seen[0]).toContain('at most 500 ms');

    const id = await c.submit('steady');
    await until(() => updates === 3, 'the updates');
    // heartbeats too
    await new Promise((r) => setTimeout(r, 1200));
    expect(seen).toHaveLength(1);

    // the monitors restarted with another taskTimeout, still too short for this worker
    await m.stop();
    m = await monitor(o, 3000);
    await until(async () => (await redis.hget(keys.outage, 'timeout')) === '3000', 'the new taskTimeout in Redis');
    await until(() => seen.length === 2, 'the warning for the new taskTimeout', 5000);
    expect(seen[1]).toContain("heartbeatInterval 1000 ms is more than a quarter of the monitors' taskTimeout (3000 ms)");
    release();
    expect(await c.wait(id, { timeout: 10_000 })).toMatchObject({ state: 'END', outcome: 'succeeded', attempt: 1 });
    expect(seen).toHaveLength(2);
  });

  it('within taskTimeout/4, or before any monitor has swept: no warning', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const early = warnings();
    const w1 = new Worker({ port: 0, redis: o, logger: early.logger, heartbeatInterval: 200 });
    cleanup.push(() => w1.stop());
    await w1.start();
    const m = await monitor(o, 2000);
    cleanup.push(() => m.stop());
    await until(async () => (await redis.hget(keys.outage, 'timeout')) === '2000', "the monitors' taskTimeout in Redis");
    const { seen, logger } = warnings();
    const w2 = new Worker({ port: 0, redis: o, logger, heartbeatInterval: 500 });
    cleanup.push(() => w2.stop());
    await w2.start();
    // a few heartbeats of each
    await new Promise((r) => setTimeout(r, 1200));
    expect(early.seen).toEqual([]);
    expect(seen).toEqual([]);
  });
});
