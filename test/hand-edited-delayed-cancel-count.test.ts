/**
 * A DELAYED hash whose function field was removed by hand: its promotion reads the function
 * from its entry (lib/delayed.lua, functionOf) and lowers that function's delayed count. Its
 * cancel must do the same, or Client.stats counts a delayed task of that function for good.
 */
import { expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client } from '../src/index.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

it('a DELAYED task without its function field, cancelled: no delayed task of its function is counted', async () => {
  const o = server.options();
  const keys = keysFor(o.keyPrefix);
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  const id = await c.submit('f', 1, { delay: 60_000 });
  expect((await c.stats()).functions.f?.delayed).toBe(1);
  await redis.hdel(keys.task(id), 'function');
  expect(await c.cancel(id)).toBe('cancelled');
  expect((await c.get(id))?.state).toBe('END');
  expect((await c.stats()).functions.f?.delayed ?? 0).toBe(0);
});

it('a DELAYED task without its function field, promoted and then cancelled: no queued task of its function is counted', async () => {
  const { Worker } = await import('../src/index.js');
  const { until } = await import('./helpers/redis-server.js');
  const o = server.options();
  const keys = keysFor(o.keyPrefix);
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  const id = await c.submit('g', 1, { delay: 300 });
  await redis.hdel(keys.task(id), 'function');
  // a worker of another function promotes what fell due (its claims do)
  const w = new Worker({ port: 0, redis: o, fetchTaskInterval: 100, logger: { debug() {}, info() {}, warn() {}, error() {} } });
  w.addTaskFunction('other', () => 1);
  cleanup.push(() => w.stop());
  await w.start();
  await until(async () => (await redis.hget(keys.task(id), 'state')) === 'QUEUED', 'promoted', 10_000);
  expect((await c.stats()).functions.g?.queued).toBe(1);
  expect(await c.cancel(id)).toBe('cancelled');
  expect((await c.stats()).functions.g?.queued ?? 0).toBe(0);
});
