/**
 * Found in the review of issue 7 (class: every store grows within a bound the user chose). deadLetterMax is
 * documented as what keeps "a producer of garbage" from filling Redis, but only entries parked
 * without an id count against it: garbage that carries a fresh id each time (`{"id":"g1"}`,
 * `{"id":"g2","function":"f","x":NaN}`) is parked as a task, with a hash that never expires, and
 * nothing the default configuration does ever drops it. The test failed before the fix.
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

describe('garbage that carries an id', () => {
  it('is kept within deadLetterMax, like garbage without one', { timeout: 60_000 }, async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const N = 2000;
    const pipe = redis.pipeline();
    for (let i = 0; i < N; i++) pipe.lpush(keys.newQueue, i % 2 ? `{"id":"g${i}"}` : `{"id":"g${i}","function":"echo","x":NaN}`);
    await pipe.exec();
    const w = new Worker({ port: 0, redis: o, logger: quiet, concurrency: 50 });
    w.addTaskFunction('echo', (t) => t.data);
    const m = new Monitor({ redis: o, logger: quiet, deadLetterMax: 100, checkTaskInterval: 100 });
    cleanup.push(() => m.stop(), () => w.stop());
    await w.start();
    await m.start();
    await until(async () => (await redis.llen(keys.newQueue)) === 0, 'queue drained', 30_000);
    // trimmed by the monitor's sweeps (every 100 ms) once the last entries are parked
    await until(async () => (await redis.hlen(keys.dead.entries)) <= 100 && (await redis.keys(`${keys.task('')}g*`)).length <= 100, 'the dead letters trimmed', 10_000);
    const entries = await redis.hlen(keys.dead.entries);
    const hashes = (await redis.keys(`${keys.task('')}g*`)).length;
    // what the review saw: entries 2000, hashes 2000 (no TTL), with deadLetterMax 100
    expect({ entries, hashes }).toEqual({ entries: 100, hashes: expect.any(Number) });
    expect(hashes).toBeLessThanOrEqual(100);
  });
});
