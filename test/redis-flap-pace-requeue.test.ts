/**
 * Redis flaps for one worker: back, reconciled, lost again at once, back again 50 ms later. The
 * worker's tasks keep their leases only if it heartbeats within taskTimeout; with
 * heartbeatInterval at taskTimeout / 8 (well within the taskTimeout / 4 the worker asks for), a
 * 50 ms blip must not cost a running task its lease: no requeue, no second copy elsewhere.
 */
import type { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { Monitor, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
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

it('a second blip right after Redis came back: the task keeps its lease, no second copy', async () => {
  const o = server.options();
  const keys = keysFor(o.keyPrefix);
  const toRedis = await startProxy(o.host, o.port);
  cleanup.push(() => toRedis.close());
  const starts: string[] = [];
  const hold = (who: string) => (t: { signal: AbortSignal }) =>
    new Promise<void>((resolve) => {
      starts.push(who);
      t.signal.addEventListener('abort', () => resolve());
    });
  const m = new Monitor({ redis: o, taskTimeout: 800, checkTaskInterval: 50, logger: quiet });
  cleanup.push(() => m.stop());
  await m.start();
  const timing = { heartbeatInterval: 100, pingTimeout: 200, abortTimeout: 200, fetchTaskInterval: 200 };
  const a = new Worker({ ...timing, port: 0, redis: { ...o, port: toRedis.port }, logger: quiet });
  a.addTaskFunction('hold', hold('a'));
  cleanup.push(() => a.stop());
  await a.start();
  await redis.lpush(keys.newQueue, JSON.stringify({ id: 't', function: 'hold' }));
  await until(() => a.running.includes('t'), 't running on a');
  const b = new Worker({ ...timing, port: 0, redis: o, logger: quiet });
  b.addTaskFunction('hold', hold('b'));
  cleanup.push(() => b.stop());
  await b.start();
  await new Promise((r) => setTimeout(r, 500));

  const states: [number, string][] = [];
  const t0 = Date.now();
  const top = (s: unknown) => (typeof s === 'string' ? s : Object.keys(s as object)[0]);
  a.on('state', (s: unknown) => states.push([Date.now() - t0, String(top(s))]));
  let blips = 0;
  let reconciled = false;
  let secondHeal: number | undefined;
  a.on('state', (s: unknown) => {
    // back and reconciled: lost again at once, for 50 ms
    if (top(s) === 'reconciling') reconciled = true;
    if (top(s) === 'connected' && blips === 1 && reconciled) {
      blips = 2;
      toRedis.reset();
      setTimeout(() => {
        toRedis.heal();
        secondHeal = Date.now();
      }, 50);
    }
  });
  // the first blip: 50 ms
  blips = 1;
  toRedis.reset();
  setTimeout(() => toRedis.heal(), 50);
  await until(() => secondHeal, 'the second blip healed', 10_000);
  await until(() => top(a.state) === 'connected', 'a connected again', 10_000);
  const back = Date.now() - secondHeal!;
  await new Promise((r) => setTimeout(r, 1500));
  expect({ back: back < 700, starts, onB: b.running.includes('t') }, `back ${back} ms after the heal; states ${JSON.stringify(states)}`).toEqual({ back: true, starts: ['a'], onB: false });
}, 30_000);
