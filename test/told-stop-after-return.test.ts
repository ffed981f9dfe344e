/**
 * A stop published on a task's control channel by other means than the Client (a raw PUBLISH),
 * heard by the worker once the attempt's function had failed, its retry's END not written yet
 * (its command connection down: the END tried again once Redis answered). The machine takes no
 * STOP while its END is on its way, and told-stop.lua was not sent: the retry was written, and
 * the next attempt ran, though the task had been told to stop while it was RUNNING in Redis and
 * the worker running it had heard it (the stop, kept for a claim of the retry sent before it,
 * reached none: the END's resend, and the claim it carries, left after it). A stop through the
 * Client marks the task, and finish.lua turns the retry into its end (`stopped`). The worker now
 * marks the task when it hears a stop for a claim whose function has returned, and again right
 * before it (re)sends a retry's END.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { cuttingProxy } from './helpers/tcp-proxy.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a raw stop heard after the attempt failed, its retry END waiting for Redis', () => {
  it('ends the task stopped: the retry is not run', async () => {
    const o = server.options();
    const prefix = o.keyPrefix ?? '';
    const proxy = await cuttingProxy(server.port);
    const c = new Client({ redis: o });
    const admin = new Redis(server.port);
    let runs = 0;
    let fail: () => void = () => {};
    const a = new Worker({ port: 0, redis: { ...o, host: '127.0.0.1', port: proxy.port }, heartbeatInterval: 100 });
    a.addTaskFunction('flaky', () => {
      if (++runs > 1) return Promise.resolve('ran again');
      return new Promise((_, reject) => {
        fail = () => reject(new Error('attempt failed'));
      });
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
    const id = await c.submit('flaky', null, { attempts: 2, backoff: 1000 });
    await until(async () => (await c.get(id))?.state === 'RUNNING' && runs === 1, 'the first attempt running');
    proxy.cut((h) => h.includes(':command'));
    await until(() => JSON.stringify(a.state).includes('redisDown'), 'a in redisDown', 10_000);
    fail(); // its retry's END cannot reach Redis
    await sleep(200);
    await admin.publish(`${prefix}task-${id}-control`, 'stop');
    await sleep(300);
    expect(await admin.hget(`${prefix}task-${id}`, 'state')).toBe('RUNNING');
    proxy.heal();
    const end = await c.wait(id, { timeout: 8000 });
    expect(end).toMatchObject({ state: 'END', outcome: 'stopped' });
    await sleep(300);
    expect(runs).toBe(1);
  }, 40_000);
});
