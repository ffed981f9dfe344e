/**
 * A worker listed again by its heartbeat (renew.lua adds it to `workers`) after a monitor pruned
 * it (requeue.lua drops it from `workers` and `workers:functions`), or after Redis lost its data,
 * says what it serves only at its next refresh (fetchWorkerInterval, 15 s by default). Until
 * then it is listed with nothing announced, and a Client queuing work for the very function it
 * serves warned that no live worker serves it, "is the name right?". A listed worker that has
 * not said what it serves may serve it: nothing is said.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Worker, type LoggerLike } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let raw: Redis;
const cleanup = redisPerFile((s, r) => ((server = s), (raw = r)));
const quiet: LoggerLike = { debug() {}, info() {}, warn() {}, error() {} };

async function servingWorker(redis: ReturnType<RedisServer['options']>): Promise<Worker> {
  const worker = new Worker({ port: 0, redis, heartbeatInterval: 100, logger: quiet });
  worker.addTaskFunction('resize', (t) => t.data);
  await worker.start();
  cleanup.push(() => worker.stop());
  return worker;
}

async function warningsOfSubmit(redis: ReturnType<RedisServer['options']>, fn: string): Promise<string[]> {
  const warnings: string[] = [];
  const client = new Client({ redis, logger: { ...quiet, warn: (...a: unknown[]) => warnings.push(a.map(String).join(' ')) } });
  cleanup.push(() => client.close());
  await client.submit(fn, 1);
  await client.close();
  return warnings;
}

describe('a worker listed again by its heartbeat, before it said again what it serves', () => {
  it('after a monitor pruned it: a submit of its function warns of nothing', async () => {
    const redis = server.options();
    await servingWorker(redis);
    const [w] = await raw.smembers(`${redis.keyPrefix}workers`);
    // what requeue.lua's prune does to a worker it found overdue
    await raw.multi().srem(`${redis.keyPrefix}workers`, w!).hdel(`${redis.keyPrefix}workers:functions`, w!).exec();
    await until(async () => (await raw.sismember(`${redis.keyPrefix}workers`, w!)) === 1, 'the worker listed again by its heartbeat');
    expect(await raw.hexists(`${redis.keyPrefix}workers:functions`, w!)).toBe(0);
    expect(await warningsOfSubmit(redis, 'resize')).toEqual([]);
  });

  it('after Redis lost its data: a submit of its function warns of nothing', async () => {
    const redis = server.options();
    await servingWorker(redis);
    await raw.flushall();
    await until(async () => (await raw.scard(`${redis.keyPrefix}workers`)) > 0, 'the worker listed again by its heartbeat');
    expect(await warningsOfSubmit(redis, 'resize')).toEqual([]);
  });

  it('a misspelt name is still warned of once the worker said what it serves', async () => {
    const redis = server.options();
    await servingWorker(redis);
    expect(await warningsOfSubmit(redis, 'resise')).toEqual([
      'submit: no live worker serves function "resise": the task waits until one that does starts; is the name right? (served: "resize")',
    ]);
  });
});
