/**
 * Task ids in messages are quoted and escaped (src/quote.ts), so that an id pushed by hand
 * cannot end a message early or forge a line of a worker's log. The messages the scripts write
 * when they park an entry (lib/judge.lua, claim.lua) name the id too, and the worker logs them:
 * `queue entry parked in the dead-letter store (<reason>): <message>`.
 */
import { expect, it } from 'vitest';
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

it('an entry pushed by hand and parked: the worker logs its id quoted, on one line', async () => {
  const o = server.options();
  const keys = keysFor(o.keyPrefix);
  const errors: string[] = [];
  const logger = { debug() {}, info() {}, warn() {}, error: (m: unknown) => void errors.push(String(m)) };
  const worker = new Worker({ port: 0, redis: o, fetchTaskInterval: 100, logger });
  worker.addTaskFunction('f', () => 1);
  cleanup.push(() => worker.stop());
  await worker.start();
  const id = 'x" (bad_option)\nINFO [worker] task "y" ended succeeded';
  await redis.lpush(keys.newQueue, JSON.stringify({ id, function: 'f', priority: 5000 }));
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  const line = await until(() => errors.find((e) => e.includes('parked in the dead-letter store')), 'the worker logged the parking', 10_000);
  expect(line).not.toContain('\n');
  expect(line).toContain(JSON.stringify(id));
}, 30_000);

it('a QUEUED task whose entry was removed by hand is parked with its id quoted', async () => {
  const o = server.options();
  const keys = keysFor(o.keyPrefix);
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  const id = 'q"\nforged';
  await c.submit('g', 1, { id, delay: 1 });
  const errors: string[] = [];
  const logger = { debug() {}, info() {}, warn() {}, error: (m: unknown) => void errors.push(String(m)) };
  // a worker of another function routes the entry into g's queue; then the data is removed
  const router = new Worker({ port: 0, redis: o, fetchTaskInterval: 100, logger: { debug() {}, info() {}, warn() {}, error() {} } });
  router.addTaskFunction('other', () => 1);
  cleanup.push(() => router.stop());
  await router.start();
  await until(async () => (await redis.hget(keys.task(id), 'state')) === 'QUEUED' && (await redis.hget(keys.task(id), 'member')) !== null, 'routed into its queue', 10_000);
  await redis.hdel(keys.task(id), 'data');
  const worker = new Worker({ port: 0, redis: o, fetchTaskInterval: 100, logger });
  worker.addTaskFunction('g', () => 1);
  cleanup.push(() => worker.stop());
  await worker.start();
  await until(async () => (await c.get(id))?.state === 'END', 'parked', 10_000);
  expect((await c.get(id))?.error?.message).toContain(JSON.stringify(id));
}, 30_000);
