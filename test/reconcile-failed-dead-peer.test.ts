/**
 * A reconcile that keeps failing while Redis answers (a swarm key of the wrong type), and a
 * peer listed in `workers` that is dead (killed, not yet pruned by the monitors: its port
 * refuses at once). The peer probe after the failed reconcile misses its quorum at once:
 * partitioned, halted, Redis answers the wait at once, the reconcile fails at once, the probe
 * misses at once... With no pause anywhere in that loop it is the thousands of tries and log
 * lines a second that waiting a poll after a failed reconcile was there to end.
 */
import type { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { Worker } from '../src/index.js';
import { freePort, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

it('a reconcile failing on, a dead peer listed: the worker asks Redis at most a few times a second', async () => {
  const o = server.options();
  const keys = keysFor(o.keyPrefix);
  const lines: string[] = [];
  const logger = { debug() {}, info() {}, warn: (m: unknown) => void lines.push(String(m)), error: (m: unknown) => void lines.push(String(m)) };
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
