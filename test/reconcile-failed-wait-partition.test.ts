/**
 * A worker whose reconcile failed, with its quorum (back in `redisDown`: its next REDIS_BACK
 * held, src/redis-watch.ts), is cut off from Redis and from its peers in that wait. It must
 * halt its tasks
 * within the bound a partitioned worker has (docs/failure-model.md: `max(1 s, 2 ×
 * heartbeatInterval) + pingTimeout + abortTimeout`), whatever its fetchTaskInterval: past it
 * the monitors may have handed its tasks to another worker, and two copies run at once.
 */
import { expect, it } from 'vitest';
import { Worker } from '../src/index.js';
import { freePort, until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { startProxy } from './helpers/tcp-proxy.js';
import { quiet } from './helpers/order.js';
import { keysFor } from './properties/harness.js';
import type { Redis } from 'ioredis';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

it('cut off from Redis and the peers while a failed reconcile waits its poll: the tasks halt within the partition bound', async () => {
  const o = server.options();
  const keys = keysFor(o.keyPrefix);
  const toRedis = await startProxy(o.host, o.port);
  const bPort = await freePort();
  const toPeer = await startProxy('127.0.0.1', bPort);
  cleanup.push(() => toRedis.close(), () => toPeer.close());
  const timing = { heartbeatInterval: 100, pingTimeout: 200, abortTimeout: 200, fetchWorkerInterval: 300 };
  const b = new Worker({ ...timing, port: bPort, advertise: toPeer.address, redis: o, logger: quiet });
  b.addTaskFunction('other', async () => {});
  cleanup.push(() => b.stop());
  await b.start();
  let aborted: number | undefined;
  const a = new Worker({ ...timing, fetchTaskInterval: 20_000, port: 0, redis: { ...o, port: toRedis.port }, logger: quiet });
  a.addTaskFunction('hold', (t) => new Promise<void>((resolve) => t.signal.addEventListener('abort', () => ((aborted = Date.now()), resolve()))));
  cleanup.push(() => a.stop());
  await a.start();
  await redis.lpush(keys.newQueue, JSON.stringify({ id: 't', function: 'hold' }));
  await until(() => a.running.includes('t'), 't running on a');
  await new Promise((r) => setTimeout(r, 1000)); // (a knows b)

  // Redis lost for a alone, b reached: redisDown, the task runs on
  toRedis.partition();
  await until(() => a.state === 'redisDown', 'a in redisDown', 5000);
  // Redis answers a's ping and goes silent again as a reconciles (b still reached: redisDown)
  let cut: number | undefined;
  let reconciled = false;
  a.on('state', (s: unknown) => {
    if (s === 'reconciling' && cut === undefined) {
      reconciled = true;
      toRedis.partition();
    }
    // in the wait after the failed reconcile: b cut off too (Redis silent all along)
    if (s === 'redisDown' && reconciled && cut === undefined) {
      toPeer.partition();
      cut = Date.now();
    }
  });
  toRedis.heal();
  await until(() => cut, 'a waiting again after a failed reconcile', 10_000);
  expect(aborted).toBeUndefined();
  await until(() => aborted, 't aborted on a', 30_000);
  // (the bound: max(1 s, 2 × 100 ms) + 200 ms + 200 ms, and some slack)
  expect(aborted! - cut!).toBeLessThan(3000);
}, 45_000);
