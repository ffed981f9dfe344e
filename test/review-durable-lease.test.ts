/**
 * redis.durable while the replica does not answer: every END batch's WAIT holds the worker's
 * command connection for durableTimeout, and what is sent behind it (heartbeats, claims) waits.
 * Several END batches, each with its own WAIT, must not queue up behind one another, and the
 * worker's command timeout must leave room for a WAIT: a heartbeat (or claim, or END) timed out
 * behind them makes the worker think Redis lost, hand claims back and retry ENDs, and one that
 * outlives the monitor's taskTimeout has a task still running here requeued.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Monitor, Worker } from '../src/index.js';
import { startReplicatedPair, type ReplicatedPair } from './helpers/replicated-pair.js';
import { until } from './helpers/redis-server.js';

let pair: ReplicatedPair;
beforeAll(async () => {
  pair = await startReplicatedPair();
});
afterAll(async () => pair?.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A worker of concurrency 8 runs one 7 s task, then 60 short ones whose ENDs go out in separate
 * batches, each waiting for the frozen replica; a monitor with `taskTimeout` watches the leases.
 */
async function keepsLeasesAlive(keyPrefix: string, durableTimeout: number, taskTimeout: number): Promise<void> {
  const redis = { host: '127.0.0.1', port: pair.primaryPort, keyPrefix, durable: 1, durableTimeout };
  const warnings: string[] = [];
  const logger = { debug() {}, info() {}, warn: (m: string) => warnings.push(m), error: (m: string) => warnings.push(m) };
  const w = new Worker({ port: 0, redis, concurrency: 8, heartbeatInterval: 1000, logger });
  const m = new Monitor({ redis, taskTimeout, checkTaskInterval: 200, logger: { debug() {}, info() {}, warn() {}, error() {} } });
  const c = new Client({ redis: { ...redis, durable: 0 } });
  const runs = new Map<string, number>();
  try {
    w.addTaskFunction('long', async (t) => {
      runs.set(t.id, (runs.get(t.id) ?? 0) + 1);
      await sleep(7000);
      return 'done';
    });
    // short tasks of different lengths: their ENDs go out in separate batches
    w.addTaskFunction('short', async (t) => {
      await sleep(30 + (Number(t.data) % 7) * 40);
      return t.data;
    });
    await m.start();
    await w.start();
    const long = await c.submit('long', null);
    await until(() => runs.get(long) === 1, 'the long task started');
    pair.freeze();
    await c.submitMany(Array.from({ length: 60 }, (_, i) => ({ fn: 'short', data: i })));
    const r = await c.wait(long, { timeout: 20_000 });
    expect(r).toMatchObject({ outcome: 'succeeded', result: 'done' });
    expect(runs.get(long)).toBe(1);
    // only the ENDs the replica did not confirm: no heartbeat, claim or END timed out behind a WAIT
    expect(warnings.filter((x) => !/redis\.durable asks for/.test(x))).toEqual([]);
  } finally {
    pair.thaw();
    await w.stop();
    await m.stop();
    await c.close();
  }
}

describe('redis.durable with the replica frozen', () => {
  it('keeps the leases of running tasks alive while END batches wait for the replica one after another', async () => {
    await keepsLeasesAlive('lease:', 1000, 5000);
  }, 40_000);

  it("keeps the leases alive with a durableTimeout past the worker's own command timeout (2 heartbeat intervals)", async () => {
    await keepsLeasesAlive('lease2:', 2500, 8000);
  }, 40_000);
});
