/**
 * An idle worker starts a task of a function it serves at once, even when another worker (which
 * does not serve it) took the entry off `new-task` and routed it while this one was between its
 * last claim and its next wait. Without a check made atomically with the wait, that task would
 * sit in its function's queue until the poll (`fetchTaskInterval`, here 30 s).
 *
 * The window is made wide by a slow link (each chunk to and from Redis held 150 ms) between the
 * serving worker and Redis: the next task is submitted the moment the previous one ends, while
 * the serving worker's next wait is still on its way, and the other worker, on a fast link,
 * routes it first.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';
import { startProxy, type TcpProxy } from './helpers/tcp-proxy.js';

let server: RedisServer;
let proxy: TcpProxy;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

beforeAll(async () => {
  server = await startRedis();
  proxy = await startProxy('127.0.0.1', server.port);
});
afterAll(async () => {
  await proxy.close();
  await server.stop();
});

describe('idle wake-up per function', () => {
  it('a task routed by a worker that does not serve it still starts at once on an idle worker that does', async () => {
    const o = server.options();
    const fast = new Worker({ port: 0, redis: o, fetchTaskInterval: 30_000, logger: quiet });
    fast.addTaskFunction('a', () => 'a');
    const slow = new Worker({ port: 0, redis: { ...o, host: '127.0.0.1', port: proxy.port }, fetchTaskInterval: 30_000, heartbeatInterval: 2_000, logger: quiet });
    slow.addTaskFunction('b', (t) => t.data);
    await fast.start();
    await slow.start();
    const client = new Client({ redis: o });
    try {
      proxy.delay(150);
      let id = await client.submit('b', 0);
      for (let i = 1; i <= 4; i++) {
        await client.wait(id, { timeout: 5_000 });
        // at once: the slow worker's next wait has not reached Redis yet
        const submitted = Date.now();
        id = await client.submit('b', i);
        const t = await client.wait(id, { timeout: 10_000 });
        expect(t, `task ${i}`).toMatchObject({ outcome: 'succeeded', result: i, worker: slow.address });
        expect(Date.now() - submitted, `task ${i} started long before the 30 s poll`).toBeLessThan(4_000);
      }
    } finally {
      proxy.heal();
      await client.close();
      await slow.stop();
      await fast.stop();
    }
  });
});
