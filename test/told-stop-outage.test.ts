/**
 * A stop published on a task's control channel by other means than the Client (a raw PUBLISH,
 * as the seed's protocol allows), heard by the worker running the task while its command
 * connection is down (the worker in redisDown: its subscriber connection still up), or before
 * Redis lost its data and the worker re-asserted the task from memory. The worker's told-stop.lua
 * call failed (or marked a hash Redis then lost), and nothing sent it again: once Redis answered,
 * the task ran on, RUNNING without its `cancelling` mark, for as long as its function took to heed
 * the stop (up to abortTimeout), and a worker cut off or killed meanwhile left it to be requeued
 * and run again on another worker, though it had been told to stop and the worker had heard it.
 * The mark is now sent again at the worker's heartbeat for a task it was told to stop whose
 * renew does not report the mark in Redis.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { startQuickMonitor } from './helpers/queued-again.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { cuttingProxy } from './helpers/tcp-proxy.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** a task of `stubborn` (ignores its signal) running on worker a, which connects through a cutting proxy */
async function runningOnA() {
  const o = server.options();
  const prefix = o.keyPrefix ?? '';
  const proxy = await cuttingProxy(server.port);
  const c = new Client({ redis: o });
  const admin = new Redis(server.port);
  const a = new Worker({ port: 0, redis: { ...o, host: '127.0.0.1', port: proxy.port }, heartbeatInterval: 100, abortTimeout: 15_000 });
  const started = new Set<string>();
  a.addTaskFunction('stubborn', ({ id }) => {
    started.add(id);
    return new Promise(() => {});
  });
  cleanup.push(
    () => proxy.close(),
    async () => admin.disconnect(),
    () => c.close(),
    async () => {
      proxy.heal();
      await Promise.race([a.stop(), sleep(3000)]);
    },
  );
  await a.start();
  const id = await c.submit('stubborn', null);
  // (its function called on a: RUNNING in Redis, its claim's reply may still be on its way, and
  // one on the command connection (a's first claim) is lost to the cut below: never run, never marked)
  await until(() => started.has(id), 'the task running on a');
  return { o, prefix, proxy, c, admin, a, id };
}

/** a cut off for good; another worker and a monitor: the task ends cancelled and runs nowhere else */
async function expectHeldAfterCutOff(s: Awaited<ReturnType<typeof runningOnA>>) {
  s.proxy.cut(() => true);
  let runs = 0;
  const b = new Worker({ port: 0, redis: s.o, heartbeatInterval: 100 });
  b.addTaskFunction('stubborn', () => {
    runs++;
    return new Promise(() => {});
  });
  cleanup.push(() => b.stop());
  await b.start();
  await startQuickMonitor(s.o, cleanup);
  expect(await s.c.wait(s.id, { timeout: 5000 })).toMatchObject({ state: 'END', outcome: 'cancelled' });
  expect(runs).toBe(0);
}

describe('a raw stop heard by the worker while it could not mark the task', () => {
  it('its command connection down (redisDown): once Redis answers, the mark is kept, and the stop holds if the worker is then cut off', async () => {
    const s = await runningOnA();
    s.proxy.cut((h) => h.includes(':command'));
    await until(() => JSON.stringify(s.a.state).includes('redisDown'), 'a in redisDown', 10_000);
    await s.admin.publish(`${s.prefix}task-${s.id}-control`, 'stop');
    await sleep(1500); // the mark's call fails (its connection refused)
    s.proxy.heal();
    await until(() => JSON.stringify(s.a.state).includes('connected'), 'a back', 10_000);
    await sleep(500); // heartbeats
    expect(await s.admin.hget(`${s.prefix}task-${s.id}`, 'cancelling')).toBe('1');
    await expectHeldAfterCutOff(s);
  }, 40_000);

  it('Redis lost its data after the worker marked it (the task re-asserted from memory): the mark is kept again', async () => {
    const s = await runningOnA();
    await s.admin.publish(`${s.prefix}task-${s.id}-control`, 'stop');
    await until(async () => (await s.admin.hget(`${s.prefix}task-${s.id}`, 'cancelling')) === '1', 'marked');
    await s.admin.flushall();
    await until(async () => (await s.admin.hget(`${s.prefix}task-${s.id}`, 'state')) === 'RUNNING', 're-asserted', 10_000);
    await sleep(500); // heartbeats
    expect(await s.admin.hget(`${s.prefix}task-${s.id}`, 'cancelling')).toBe('1');
    await expectHeldAfterCutOff(s);
  }, 40_000);
});
