/**
 * `workers:max-payload` is read by Clients only to refuse less: a key of another type there
 * (written by hand, by another app under the prefix) must not fail a worker's start or stop, as
 * junk in `workers:owners` fails no heartbeat (lib/address-owners.lua). The worker serves; the
 * Client refuses nothing on the workers' account.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Worker } from '../src/index.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe('workers:max-payload of another type', () => {
  it('a worker starts, refreshes, runs a task and stops; a large task is queued', { timeout: 20_000 }, async () => {
    const o = { ...server.options(), keyPrefix: 'plh1:' };
    const keys = keysFor(o.keyPrefix);
    await redis.set(keys.workerMaxPayload, 'not a hash');
    const said: string[] = [];
    const logger = { ...quiet, debug: (m: unknown) => void said.push(String(m)), warn: (m: unknown) => void said.push(String(m)) };
    const w = new Worker({ port: 0, redis: o, logger, maxPayloadBytes: 100_000, fetchWorkerInterval: 100 });
    w.addTaskFunction('f', async () => 'ran');
    cleanup.push(() => w.stop());
    await w.start();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('f', 1);
    expect(await c.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', result: 'ran' });
    expect(await c.submit('g', 'x'.repeat(200_000), { id: 'big' })).toBe('big');
    // (its refreshes, which write its functions and limit again, fail on none of it)
    await new Promise((r) => setTimeout(r, 500));
    expect(said.filter((m) => /refresh failed|WRONGTYPE/.test(m))).toEqual([]);
    await w.stop();
    expect(await redis.sismember(keys.workerSet, w.address)).toBe(0);
    expect(await redis.get(keys.workerMaxPayload)).toBe('not a hash');
  });
});
