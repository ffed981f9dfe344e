/**
 * Redis lost its data (restarted empty), and the worker's reconcile after it failed: the worker
 * waits (probing, its next REDIS_BACK held: src/redis-watch.ts) before asking again. A task whose function returns meanwhile has
 * its END refused (its hash went with the data; the reconcile re-asserts it). That END must be
 * tried again once the worker has reconciled, as it is while the worker is probing or
 * reconciling: given up as a lease lost, the task is forgotten by the only one who knew it,
 * and it is never re-asserted: its hash never comes back, its result is lost.
 */
import type { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

it('an END refused while a failed reconcile waits is written once the worker has reconciled', async () => {
  const o = server.options();
  const keys = keysFor(o.keyPrefix);
  const lines: string[] = [];
  const logger = { debug() {}, info() {}, warn: (m: unknown) => void lines.push(String(m)), error: (m: unknown) => void lines.push(String(m)) };
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const w = new Worker({ port: 0, redis: o, heartbeatInterval: 100, fetchTaskInterval: 3000, logger });
  w.addTaskFunction('hold', async () => {
    await held;
    return 'done';
  });
  cleanup.push(() => w.stop());
  await w.start();
  await redis.lpush(keys.newQueue, JSON.stringify({ id: 't', function: 'hold' }));
  await until(() => w.running.includes('t'), 't running');

  // Redis loses its data; something of another type lands where the epoch was (so the reconcile
  // fails), and the worker's connections are cut
  await redis.multi().flushall().hset(keys.epoch, 'x', 'y').exec();
  await redis.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
  await until(() => lines.some((l) => /^reconciling: .*WRONGTYPE/.test(l)), 'a failed reconcile', 5000);

  // the function returns: its END is refused (the hash is gone)
  release();
  await new Promise((r) => setTimeout(r, 500));
  // the key is mended: the worker reconciles (re-asserting t) and writes its END
  await redis.del(keys.epoch);
  await until(() => typeof w.state === 'object' && w.state !== null && 'connected' in w.state, 'the worker connected again', 10_000);
  await until(async () => (await redis.hget(keys.task('t'), 'outcome')) === 'succeeded', 't ended succeeded', 5000).catch(() => {});
  expect(lines.filter((l) => /END refused, our lease is gone/.test(l))).toEqual([]);
  expect(await redis.hget(keys.task('t'), 'outcome')).toBe('succeeded');
}, 40_000);
