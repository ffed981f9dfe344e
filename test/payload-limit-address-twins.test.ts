/**
 * Two live worker processes under one address (address twins, src/address-owners.ts) with
 * different maxPayloadBytes share one field of `workers:max-payload`. A task the larger one takes
 * must not be refused by a Client given no limit because the smaller one registered, or
 * announced itself again, after it: a refusal is owed only when no live worker would take it.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Worker } from '../src/index.js';
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
const ADDRESS = '10.255.255.2:7000';
/** data whose task entry is about `bytes` long */
const sized = (bytes: number) => 'x'.repeat(bytes - 60);

describe('address twins of different maxPayloadBytes', () => {
  it('the smaller registering after the larger: a task only the larger takes is still queued (submit, submitMany)', { timeout: 20_000 }, async () => {
    const o = { ...server.options(), keyPrefix: 'plt1:' };
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const start = async (maxPayloadBytes: number) => {
      const w = new Worker({ port: 0, advertise: ADDRESS, redis: o, logger: quiet, maxPayloadBytes, fetchWorkerInterval: 100 });
      cleanup.push(() => w.stop());
      await w.start();
      return w;
    };
    await start(400_000);
    await start(100_000);
    // (several refreshes of each: each announces itself again)
    await new Promise((r) => setTimeout(r, 500));
    expect(Number(await redis.hget(keys.workerMaxPayload, ADDRESS))).toBe(400_000);
    expect(await c.submit('f', sized(200_000), { id: 'big' })).toBe('big');
    expect(await c.submitMany([{ fn: 'f', data: sized(200_000), options: { id: 'many' } }])).toEqual(['many']);
  });

  it('the larger registering after the smaller: its limit is the one read', { timeout: 20_000 }, async () => {
    const o = { ...server.options(), keyPrefix: 'plt2:' };
    const keys = keysFor(o.keyPrefix);
    const start = async (maxPayloadBytes: number) => {
      const w = new Worker({ port: 0, advertise: ADDRESS, redis: o, logger: quiet, maxPayloadBytes, fetchWorkerInterval: 100 });
      cleanup.push(() => w.stop());
      await w.start();
      return w;
    };
    await start(100_000);
    await start(400_000);
    await new Promise((r) => setTimeout(r, 500));
    await until(async () => Number(await redis.hget(keys.workerMaxPayload, ADDRESS)) === 400_000, 'the larger limit read', 5000);
  });
});
