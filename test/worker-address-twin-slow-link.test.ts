/**
 * Two live worker processes under one address; one of them reaches Redis over a slow link
 * (80 ms each way), so its heartbeats land every heartbeatInterval + 160 ms: never three
 * intervals apart, never overdue. The other stops: a live process still heartbeats under the
 * address, so the address must stay listed, with the functions that process serves (nothing
 * writes them again before its next refresh of the worker list).
 */
import type { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { Worker } from '../src/index.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { startProxy } from './helpers/tcp-proxy.js';
import { quiet } from './helpers/order.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const ADDRESS = '10.255.255.9:7000';

it('a stop beside a live twin on a slow link leaves the address listed, with its functions', async () => {
  const o = server.options();
  const keys = keysFor(o.keyPrefix);
  const slow = await startProxy(o.host, o.port);
  cleanup.push(() => slow.close());
  slow.delay(80);
  const b = new Worker({ port: 0, advertise: ADDRESS, heartbeatInterval: 100, fetchWorkerInterval: 30_000, redis: { ...o, port: slow.port }, logger: quiet });
  b.addTaskFunction('f', async () => {});
  cleanup.push(() => b.stop());
  await b.start();
  const unlisted: number[] = [];
  for (let i = 0; i < 12; i++) {
    const a = new Worker({ port: 0, advertise: ADDRESS, heartbeatInterval: 100, redis: o, logger: quiet });
    a.addTaskFunction('f', async () => {});
    await a.start();
    // (a watches b move for a second first)
    await new Promise((r) => setTimeout(r, 1000 + 37 * i));
    await a.stop();
    const listed = await redis.sismember(keys.workerSet, ADDRESS);
    const fns = await redis.hexists(keys.workerFunctions, ADDRESS);
    if (!listed || !fns) unlisted.push(i);
    // (b lists the address again at its next heartbeat; its functions only at its next refresh)
    await redis.sadd(keys.workerSet, ADDRESS);
    await redis.hset(keys.workerFunctions, ADDRESS, JSON.stringify(['f']));
  }
  expect(unlisted, 'stops after which the address or its functions were gone, b heartbeating all along').toEqual([]);
}, 60_000);
