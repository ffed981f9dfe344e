/**
 * A task submitted again, the very same entry under its id (a submit ioredis resent after a
 * reconnect, its first reply lost; a submitMany made again after a PartlySubmittedError), is
 * answered with its id: the entry is the caller's own, queued. That holds for a large task too
 * when the live workers' limits changed in between (the one worker that took it stopped): its
 * entry was written, so "over every live worker's maxPayloadBytes ... nothing was written" would
 * tell the caller a queued task was not, and a caller that sends it elsewhere runs it twice.
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
let n = 0;
/** data whose task entry is about `bytes` long */
const sized = (bytes: number) => 'x'.repeat(bytes - 60);

/** a swarm of its own, its Client given no limit, a worker of 400000 bytes and one of 100000 (serving nothing: tasks stay queued) */
async function swarm() {
  const o = { ...server.options(), keyPrefix: `pla${++n}:` };
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  const [large, small] = [400_000, 100_000].map((maxPayloadBytes) => new Worker({ port: 0, redis: o, logger: quiet, maxPayloadBytes })) as [Worker, Worker];
  for (const w of [large, small]) {
    cleanup.push(() => w.stop());
    await w.start();
  }
  return { c, large, keys: keysFor(o.keyPrefix) };
}

describe('a large task submitted again after the worker that takes it stopped', () => {
  it('submit: answered with its id, as any task submitted again (its entry is queued)', async () => {
    const { c, large, keys } = await swarm();
    const data = sized(200_000);
    expect(await c.submit('f', data, { id: 'big' })).toBe('big');
    await large.stop();
    expect(await c.submit('f', data, { id: 'big' })).toBe('big');
    expect(await redis.sismember(keys.queued, 'big')).toBe(1);
  });

  it('submitMany: answered with the ids, the large one among them', async () => {
    const { c, large, keys } = await swarm();
    const list = [
      { fn: 'f', data: 1, options: { id: 'one' } },
      { fn: 'f', data: sized(200_000), options: { id: 'big' } },
    ];
    expect(await c.submitMany(list)).toEqual(['one', 'big']);
    await large.stop();
    expect(await c.submitMany(list)).toEqual(['one', 'big']);
    expect(await redis.sismember(keys.queued, 'big')).toBe(1);
  });

  it('a new task as large is still refused', async () => {
    const { c, large } = await swarm();
    await large.stop();
    await expect(c.submit('f', sized(200_000), { id: 'new' })).rejects.toThrow(/over the maxPayloadBytes of every live worker \(the largest is 100000\)/);
    await expect(c.submitMany([{ fn: 'f', data: sized(200_000), options: { id: 'new' } }])).rejects.toThrow(/over the maxPayloadBytes of every live worker/);
  });
});
