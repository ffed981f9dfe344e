/**
 * A swarm key of the wrong type (written by hand, or by another app sharing the db): Redis
 * answers, and refuses the worker's heartbeat with WRONGTYPE. The worker keeps its task running,
 * asks again at its poll's pace (it had asked again at once: thousands of tries and log lines a
 * second), and goes on as before once the key is mended.
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

it('a heartbeat refused with WRONGTYPE: the task runs on, a few lines a second at most, and all is as before once the key is mended', async () => {
  const o = server.options();
  const keys = keysFor(o.keyPrefix);
  const lines: string[] = [];
  const logger = { debug() {}, info() {}, warn: (m: unknown) => void lines.push(String(m)), error: (m: unknown) => void lines.push(String(m)) };
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
