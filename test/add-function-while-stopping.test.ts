/**
 * addTaskFunction() while the worker stops: a listed worker says at once which functions it
 * serves (`workers:functions`), and one stopping was still taken as listed once its
 * deregistration had gone out. What it said then landed after the deregistration, and the
 * functions of a worker gone stayed in `workers:functions` (stats and status list them), the
 * same as a registration landing after the stop (test/stop-while-registering.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { Worker } from '../src/index.js';
import { startProxy } from './helpers/tcp-proxy.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { watchRegistrations } from './helpers/registrations.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

describe('addTaskFunction() while the worker stops', () => {
  it('leaves no functions of the worker listed once it has stopped', async () => {
    const proxy = await startProxy('127.0.0.1', server.port);
    cleanup.push(async () => proxy.close());
    const o = server.options();
    const worker = new Worker({ redis: { ...o, port: proxy.port }, port: 0, logger: quiet });
    worker.addTaskFunction('noop', async () => {});
    await worker.start();

    const registrations = await watchRegistrations(server);
    cleanup.push(() => registrations.close());

    // a slow link: the deregistration's reply takes 300 ms each way, and the worker is still
    // connected when Redis has run it
    proxy.delay(300);
    const stopped = worker.stop();
    await until(() => registrations.removed.size > 0, 'the deregistration run', 10_000);
    worker.addTaskFunction('late', async () => {});
    await stopped;
    await new Promise((r) => setTimeout(r, 1000));
    const admin = server.client();
    cleanup.push(async () => admin.disconnect());
    expect(await admin.hgetall(`${o.keyPrefix}workers:functions`)).toEqual({});
  }, 30_000);
});
