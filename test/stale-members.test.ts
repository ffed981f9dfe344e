/**
 * Found in the review of issue 7 (item 4's class, junk in `workers`, and "a dead worker still listed"). The
 * monitors prune workers by `workers:seen`; a member of `workers` that has no entry there (left
 * by hand, by a seed-format worker, or by an older version) is never pruned, yet every node
 * counts it as a peer it failed to reach. A few such members make every worker take a Redis
 * outage for a partition: they halt (abort) their tasks instead of running on. The test failed before the fix.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Monitor, Worker } from '../src/index.js';
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
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('members of workers that never heartbeat', () => {
  it('are pruned by the monitors, so a Redis outage finds the live workers in redisDown, not halted', { timeout: 40_000 }, async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    // three listed addresses nobody answers on, never in workers:seen
    await redis.sadd(keys.workerSet, '127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3');
    const m = new Monitor({ redis: o, logger: quiet, taskTimeout: 1000, checkTaskInterval: 200 });
    const opts = { port: 0, redis: o, logger: quiet, heartbeatInterval: 200, fetchWorkerInterval: 200, pingTimeout: 200 };
    const a = new Worker(opts);
    const b = new Worker(opts);
    cleanup.push(() => m.stop(), () => a.stop(), () => b.stop());
    await m.start();
    await a.start();
    await b.start();
    // pruned past 2 x taskTimeout, then gone from each worker's next read of the list (polled:
    // a fixed pause could end before either on a loaded machine; left and states say what failed)
    const silent = (w: string) => /:[123]$/.test(w);
    const peersOf = (w: Worker) => (w as unknown as { peers: string[] }).peers;
    await until(async () => !(await redis.smembers(keys.workerSet)).some(silent), 'the silent members pruned', 15_000).catch(() => {});
    const left = (await redis.smembers(keys.workerSet)).filter(silent);
    await until(() => [a, b].every((w) => !peersOf(w).some(silent) && peersOf(w).length === 1), 'each worker listing only the other', 5000).catch(() => {});
    server.freeze();
    let states: unknown[];
    try {
      await until(() => a.state !== null && typeof a.state === 'string' && b.state !== null && typeof b.state === 'string', 'both saw the outage', 10_000);
      await sleep(500);
      states = [a.state, b.state];
    } finally {
      server.thaw();
    }
    // what the review saw: left ['127.0.0.1:1', ...] and states ['halted', 'halted']
    expect({ left, states }).toEqual({ left: [], states: ['redisDown', 'redisDown'] });
  });
});
