/**
 * A Client given no maxPayloadBytes refuses a task only when no live worker would take it. A
 * listed worker that declared no limit (a worker of the version before `workers:max-payload`,
 * beside upgraded ones in a rolling upgrade; one pruned while cut off and listed again by its
 * heartbeat before its refresh writes its limit again) might take anything: its presence refuses
 * nothing. And an entry of a worker no longer listed (pruned by a monitor of the version before,
 * which knows nothing of the hash) is no live worker's: it refuses nothing either.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Worker } from '../src/index.js';
import { registerWorker } from '../src/effects/registry.js';
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
let n = 0;
/** data whose task entry is about `bytes` long */
const sized = (bytes: number) => 'x'.repeat(bytes - 60);

async function swarm(...limits: number[]) {
  const o = { ...server.options(), keyPrefix: `plu${++n}:` };
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  for (const maxPayloadBytes of limits) {
    const w = new Worker({ port: 0, redis: o, logger: quiet, maxPayloadBytes });
    cleanup.push(() => w.stop());
    await w.start();
  }
  return { c, keys: keysFor(o.keyPrefix) };
}

/** a worker listed as the version before lists one: in `workers`, no limit written */
async function listedBefore(keys: ReturnType<typeof keysFor>, address: string) {
  await registerWorker(redis, keys, address, 10_000, { functions: ['f'], maxPayloadBytes: 1 });
  await redis.hdel(keys.workerMaxPayload, address);
}

describe('a listed worker that declared no limit, beside one that did', () => {
  it('a task over the declared one is queued (submit, submitMany, schedule)', async () => {
    const { c, keys } = await swarm(100_000);
    await listedBefore(keys, '10.255.255.3:7000');
    expect(await c.submit('f', sized(200_000), { id: 'big' })).toBe('big');
    expect(await c.submitMany([{ fn: 'f', data: sized(200_000), options: { id: 'many' } }])).toEqual(['many']);
    await expect(c.schedule('big', { every: 60_000 }, 'f', sized(200_000))).resolves.toMatchObject({ changed: true });
  });
});

describe('an entry of a worker no longer listed', () => {
  it('alone: refuses nothing (no live worker declared a limit)', async () => {
    const { c, keys } = await swarm();
    await redis.hset(keys.workerMaxPayload, '10.255.255.4:7000', 100_000);
    expect(await c.submit('f', sized(200_000), { id: 'big' })).toBe('big');
    expect(await c.submitMany([{ fn: 'f', data: sized(200_000), options: { id: 'many' } }])).toEqual(['many']);
  });

  it('beside a live worker: the live one\'s limit is the one that counts', async () => {
    const { c, keys } = await swarm(100_000);
    await redis.hset(keys.workerMaxPayload, '10.255.255.4:7000', 400_000);
    await expect(c.submit('f', sized(200_000), { id: 'big' })).rejects.toThrow(/over the maxPayloadBytes of every live worker \(the largest is 100000\)/);
    await expect(c.submitMany([{ fn: 'f', data: sized(200_000), options: { id: 'many' } }])).rejects.toThrow(/the largest is 100000/);
  });
});
