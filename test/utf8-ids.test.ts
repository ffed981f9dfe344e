/**
 * Found in the review of issue 7 (class 1: the script and the runtime must agree on what an entry is): an id
 * whose bytes are not UTF-8. claim.lua keys the task by the bytes (`task-\xff`); the worker reads
 * the id through ioredis as a JS string (`\ufffd`) and heartbeats, emits and ends `task-\ufffd`,
 * a key that does not exist. The script now refuses such an id (lib/task-id.lua); the test failed
 * before the fix (the entry ran maxAttempts times).
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

describe('an id that is not UTF-8', () => {
  it('is parked at once as a bad id, with no task hash, and never runs (not once, nor again and again)', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const raw = Buffer.concat([Buffer.from('{"id":"'), Buffer.from([0xff]), Buffer.from('","function":"echo","data":1}')]);
    await redis.lpush(keys.newQueue, raw);
    let runs = 0;
    const w = new Worker({ port: 0, redis: o, logger: quiet, heartbeatInterval: 100, fetchTaskInterval: 200 });
    w.addTaskFunction('echo', async () => {
      runs++;
      await sleep(300); // long enough for a heartbeat
      return 'done';
    });
    const m = new Monitor({ redis: o, logger: quiet, taskTimeout: 500, checkTaskInterval: 100, maxAttempts: 3 });
    cleanup.push(() => m.stop(), () => w.stop());
    await w.start();
    await m.start();
    await sleep(5000);
    const byteKey = Buffer.concat([Buffer.from(keys.task('')), Buffer.from([0xff])]);
    const h = await redis.hgetall(byteKey);
    const letters = (await redis.hvals(keys.dead.entries)).map((e) => JSON.parse(e).reason as string);
    // what the review saw: runs 3, state END outcome failed, parked max_attempts ("its worker
    // died each time"), each run's END refused ("our lease is gone"). Now the script refuses the
    // id (lib/task-id.lua): parked once as bad_id, as junk (pushed by hand, never seen: no hash)
    expect({ runs, state: h.state ?? null, letters }).toEqual({ runs: 0, state: null, letters: ['bad_id'] });
  });

  it('two ids that differ in bytes that are not UTF-8 are both refused, neither run nor mixed up', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    for (const b of [0xfe, 0xff]) {
      await redis.lpush(keys.newQueue, Buffer.concat([Buffer.from('{"id":"'), Buffer.from([b]), Buffer.from('","function":"echo","data":1}')]));
    }
    const seen: string[] = [];
    const w = new Worker({ port: 0, redis: o, logger: quiet, fetchTaskInterval: 200 });
    w.addTaskFunction('echo', (t) => void seen.push(t.id));
    cleanup.push(() => w.stop());
    await w.start();
    await until(async () => (await redis.hlen(keys.dead.entries)) >= 2, 'both entries parked', 10_000);
    await sleep(300); // (and neither run)
    const letters = (await redis.hvals(keys.dead.entries)).map((e) => JSON.parse(e) as { reason: string; message: string });
    expect(seen).toEqual([]);
    expect(letters.map((l) => l.reason)).toEqual(['bad_id', 'bad_id']);
    expect(letters[0]!.message).toMatch(/not valid UTF-8/);
  });
});
