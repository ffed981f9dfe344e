/**
 * Found in the review of issue 7: a key of another type under a task's name (`SET task-<id> ...`, which
 * Client.get already answers as `invalid.key`) is read by every script that touches the task.
 * Each test failed before the fix: the runtime lost, stranded or stopped serving other tasks because of it.
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

describe('a key of another type under a task name', () => {
  it('claim: an entry whose task key is a string is parked or left queued, never dropped; the tasks claimed before it in the batch run', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    // a string key where the task's hash would go (an app sharing the db, an operator's SET)
    await redis.set(keys.task('b'), 'not a hash');
    // FIFO: a, then b, then c
    for (const id of ['a', 'b', 'c']) await redis.lpush(keys.newQueue, JSON.stringify({ id, function: 'echo', data: id }));
    const ran: string[] = [];
    const w = new Worker({ port: 0, redis: o, logger: quiet, concurrency: 10, fetchTaskInterval: 200 });
    w.addTaskFunction('echo', (t) => void ran.push(t.id));
    cleanup.push(() => w.stop());
    await w.start();
    // (polled, then a pause for anything more to show; what the review saw fails the until)
    await until(async () => ran.length >= 2 && (await redis.hget(keys.task('a'), 'state')) === 'END', 'a and c run, a ended', 10_000).catch(() => {});
    await sleep(300);
    const queue = await redis.lrange(keys.newQueue, 0, -1);
    const dead = await redis.hvals(keys.dead.entries);
    const b = { queued: queue.some((e) => e.includes('"b"')), dead: dead.some((e) => e.includes('\\"b\\"')) };
    const a = await redis.hgetall(keys.task('a'));
    // what the review saw: claim.lua raised at b after popping it: a RUNNING for this worker
    // with nobody running it (no receipt: stranded until taskTimeout, attempt charged), b in
    // neither the queue nor the dead letters (lost), only c run (by the next claim)
    expect({ ran: ran.sort(), aState: a.state, bQueuedOrParked: b.queued || b.dead }).toEqual({ ran: ['a', 'c'], aState: 'END', bQueuedOrParked: true });
  });

  it('worker: one running task whose key is overwritten does not stop the heartbeat of the others', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const states: string[] = [];
    const w = new Worker({ port: 0, redis: o, logger: quiet, heartbeatInterval: 200 });
    w.on('state', (s) => states.push(JSON.stringify(s)));
    w.addTaskFunction('hold', (t) => new Promise((r) => t.signal.addEventListener('abort', () => r('aborted'))));
    cleanup.push(() => w.stop());
    await w.start();
    for (const id of ['x', 'y']) await redis.lpush(keys.newQueue, JSON.stringify({ id, function: 'hold' }));
    await until(async () => (await redis.hget(keys.task('y'), 'state')) === 'RUNNING' && (await redis.hget(keys.task('x'), 'state')) === 'RUNNING', 'both running');
    await redis.del(keys.task('x'));
    await redis.set(keys.task('x'), 'junk');
    states.length = 0; // from here on
    const before = Number(await redis.hget(keys.task('y'), 'update'));
    await sleep(2000);
    const after = Number(await redis.hget(keys.task('y'), 'update'));
    // y's lease must keep being renewed, and the worker must not think Redis is lost
    expect({ yRenewed: after > before, leftConnected: states.filter((s) => !s.includes('connected')) }).toEqual({ yRenewed: true, leftConnected: [] });
  });

  it('monitor: a stale task whose key is overwritten does not stop the requeue of the tasks after it, nor the cleanup', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    // x: claimed by a worker that died, its key then overwritten
    await redis.set(keys.task('x'), 'junk');
    await redis.zadd(keys.leases, 1, 'x');
    await redis.sadd(keys.taskSet, 'x');
    // y: claimed by a worker that died, a normal hash; z: ended, waiting for cleanup
    await redis.hset(keys.task('y'), 'state', 'RUNNING', 'update', '2', 'attempt', '1', 'lease', '1:w', 'worker', 'w', 'data', JSON.stringify({ id: 'y', function: 'f' }));
    await redis.zadd(keys.leases, 2, 'y');
    await redis.sadd(keys.taskSet, 'y', 'z');
    await redis.hset(keys.task('z'), 'state', 'END', 'outcome', 'succeeded');
    await redis.rpush(keys.ended, 'z');
    const m = new Monitor({ redis: o, logger: quiet, taskTimeout: 1000, checkTaskInterval: 200 });
    cleanup.push(() => m.stop());
    await m.start();
    await until(async () => (await redis.hget(keys.task('y'), 'state')) === 'QUEUED' && (await redis.sismember(keys.taskSet, 'z')) === 0, 'y requeued and z cleaned', 10_000).catch(() => {});
    expect({ y: await redis.hget(keys.task('y'), 'state'), zCleaned: (await redis.sismember(keys.taskSet, 'z')) === 0 }).toEqual({ y: 'QUEUED', zCleaned: true });
  });
});
