/**
 * A QUEUED task whose `data` was removed by hand is parked `unrunnable` by the claim that takes
 * its turn (claim.lua), with an empty entry in its dead letter. Retrying that dead letter
 * (retryDead) must not strand the task: retry-dead.lua sets the hash QUEUED and pushes the
 * letter's entry, which is empty; the claim parks that as junk (not a JSON object, no id), and
 * the task stayed QUEUED in no queue, for good: its wait never ends.
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
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

it('retrying the dead letter of a queued task parked for its removed entry leaves it refused or parked, never QUEUED in no queue', async () => {
  const o = server.options();
  const keys = keysFor(o.keyPrefix);
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  const id = await c.submit('f', null, { group: 'g' });
  await redis.hdel(keys.task(id), 'data');
  const w = new Worker({ port: 0, redis: o, logger: quiet, fetchTaskInterval: 100 });
  w.addTaskFunction('f', () => 'ran');
  cleanup.push(() => w.stop());
  await w.start();
  await until(async () => (await redis.hget(keys.task(id), 'parked')) === 'unrunnable', 'parked unrunnable', 5000);
  const letter = (await c.deadLetters()).find((d) => d.id === id);
  expect(letter).toBeDefined();
  const retried = await c.retryDead(letter!).catch((e: Error) => e);
  if (retried instanceof Error) return; // refused, the task left parked: fine
  // taken by the worker's next claims: give them time
  await new Promise((r) => setTimeout(r, 1500));
  const state = await redis.hget(keys.task(id), 'state');
  const inQueue = (await redis.zcard(keys.groupQueue('f', 'g'))) + (await redis.llen(keys.newQueue));
  expect({ state, inQueue: state === 'QUEUED' ? inQueue : 'n/a' }).not.toEqual({ state: 'QUEUED', inQueue: 0 });
  // and its wait ends
  await expect(c.wait(id, { timeout: 3000 })).resolves.toMatchObject({ state: 'END' });
});
