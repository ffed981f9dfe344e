/**
 * Redis answers, and refuses the heartbeat and the reconcile: a swarm key of the wrong type
 * (written by hand, or by another app sharing the db: WRONGTYPE). The worker keeps its task
 * running and asks again a heartbeatInterval later at most a second (src/redis-watch.ts's hold,
 * after a reconcile that failed), where it had asked again at once: thousands of tries and log
 * lines a second, with a dead peer listed too (partitioned, halted, Redis answers at once, the
 * reconcile fails at once...). A task whose function returns meanwhile has its END refused (its
 * hash gone with Redis's data): it is tried again once the worker has reconciled, never given up
 * as a lease lost (its result would be lost). Once the key is mended all is as before.
 */
import type { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { Worker } from '../src/index.js';
import { freePort, until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { collectingLogger } from './helpers/collecting-logger.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});


it('a heartbeat refused with WRONGTYPE: the task runs on, a few lines a second at most, and all is as before once the key is mended', async () => {
  const o = server.options();
  const keys = keysFor(o.keyPrefix);
  const { lines, logger } = collectingLogger();
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let runs = 0;
  const w = new Worker({ port: 0, redis: o, heartbeatInterval: 500, fetchTaskInterval: 500, logger });
  w.addTaskFunction('hold', async () => {
    runs++;
    await held;
    return 'done';
  });
  cleanup.push(() => w.stop());
  await w.start();
  await redis.lpush(keys.newQueue, JSON.stringify({ id: 't', function: 'hold' }));
  await until(() => runs === 1, 't running');
  await redis.del(keys.workerSeen);
  await redis.set(keys.workerSeen, 'not a sorted set');
  await new Promise((r) => setTimeout(r, 3000));
  // (each try: its failure, and what the peer probe decided; a try per heartbeatInterval at most)
  expect(lines.some((l) => /WRONGTYPE/.test(l))).toBe(true);
  expect(lines.length).toBeLessThan(40);
  expect(await redis.hget(keys.task('t'), 'state')).toBe('RUNNING');
  await redis.del(keys.workerSeen);
  await until(() => typeof w.state === 'object' && w.state !== null && 'connected' in w.state, 'the worker connected again', 5000);
  release();
  await until(async () => (await redis.hget(keys.task('t'), 'outcome')) === 'succeeded', 't ended succeeded');
  expect(runs).toBe(1);
});

it('a reconcile failing on, a dead peer listed: the worker asks Redis at most a few times a second', async () => {
  const o = server.options();
  const keys = keysFor(o.keyPrefix);
  const { lines, logger } = collectingLogger();
  const w = new Worker({ port: 0, redis: o, heartbeatInterval: 250, fetchTaskInterval: 500, fetchWorkerInterval: 200, logger });
  w.addTaskFunction('hold', (t) => new Promise<void>((resolve) => t.signal.addEventListener('abort', () => resolve())));
  cleanup.push(() => w.stop());
  await w.start();
  // a peer that died without deregistering: listed, its port closed
  await redis.sadd(keys.workerSet, `127.0.0.1:${await freePort()}`);
  await new Promise((r) => setTimeout(r, 600)); // (the worker knows it)
  let reconciles = 0;
  w.on('state', (s: unknown) => {
    if (s === 'reconciling') reconciles++;
  });
  // the heartbeat refused with WRONGTYPE from now on: every reconcile fails too
  await redis.del(keys.workerSeen);
  await redis.set(keys.workerSeen, 'not a sorted set');
  await new Promise((r) => setTimeout(r, 2000));
  const seen = reconciles;
  const logged = lines.length;
  await redis.del(keys.workerSeen);
  // (a heartbeatInterval between two tries, at most a second: about 8 in 2 s; a few more for
  // slack. Unheld, it was 887)
  expect({ reconciles: seen <= 12, logLines: logged < 60 }).toEqual({ reconciles: true, logLines: true });
}, 30_000);

it('an END refused while a failed reconcile waits is written once the worker has reconciled', async () => {
  const o = server.options();
  const keys = keysFor(o.keyPrefix);
  const { lines, logger } = collectingLogger();
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
