/**
 * A worker whose Redis answered its ping, and went silent again before the reconcile got its
 * answer (a flapping link), cut off from its peers at the same time, or in the wait after the
 * failed reconcile (its next ask of Redis held: src/redis-watch.ts). It must halt its tasks
 * within the bound a partitioned worker has (docs/failure-model.md: `max(1 s, 2 ×
 * heartbeatInterval) + pingTimeout + abortTimeout`), whatever its fetchTaskInterval (the
 * fallback poll of an idle worker, set long where workers block on the queue anyway): past that
 * bound the monitors may have handed its tasks to another worker, and two copies run at once.
 */
import { expect, it } from 'vitest';
import { Worker } from '../src/index.js';
import { freePort, until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { startProxy, type TcpProxy } from './helpers/tcp-proxy.js';
import { quiet } from './helpers/order.js';
import { keysFor } from './properties/harness.js';
import type { Redis } from 'ioredis';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

/**
 * Worker a running task `t`, reaching Redis and its peer b each through a proxy, then Redis lost
 * for a alone (b reached: Redis is down for everyone, the task runs on). `aborted()`: when t's
 * signal fired on a.
 */
async function aWaitingForRedis(): Promise<{ a: Worker; toRedis: TcpProxy; toPeer: TcpProxy; aborted: () => number | undefined }> {
  const o = server.options();
  const keys = keysFor(o.keyPrefix);
  const toRedis = await startProxy(o.host, o.port);
  const bPort = await freePort();
  const toPeer = await startProxy('127.0.0.1', bPort);
  cleanup.push(() => toRedis.close(), () => toPeer.close());
  const timing = { heartbeatInterval: 100, pingTimeout: 200, abortTimeout: 200, fetchWorkerInterval: 300 };
  // the peer: reached through its own proxy, serving another function
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
  toRedis.partition();
  await until(() => a.state === 'redisDown', 'a in redisDown', 5000);
  expect(aborted).toBeUndefined();
  return { a, toRedis, toPeer, aborted: () => aborted };
}

it('a reconcile failed because Redis went silent again, cut off from the peers too: the tasks halt within the partition bound', async () => {
  const { a, toRedis, toPeer, aborted } = await aWaitingForRedis();
  // Redis answers a's ping, and goes silent again as a reconciles, b cut off with it
  let cut: number | undefined;
  a.on('state', (s: unknown) => {
    if (s === 'reconciling' && cut === undefined) {
      toRedis.partition();
      toPeer.partition();
      cut = Date.now();
    }
  });
  toRedis.heal();
  await until(() => cut, 'a reconciling', 5000);
  await until(aborted, 't aborted on a', 30_000);
  // (the bound: max(1 s, 2 × 100 ms) + 200 ms + 200 ms, and some slack)
  expect(aborted()! - cut!).toBeLessThan(3000);
}, 45_000);

it('cut off from the peers in the wait after a failed reconcile: the tasks halt within the partition bound', async () => {
  const { a, toRedis, toPeer, aborted } = await aWaitingForRedis();
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
  expect(aborted()).toBeUndefined();
  await until(aborted, 't aborted on a', 30_000);
  // (the bound: max(1 s, 2 × 100 ms) + 200 ms + 200 ms, and some slack)
  expect(aborted()! - cut!).toBeLessThan(3000);
}, 45_000);
