/**
 * Redis lost its data (restarted without persistence) while tasks ran, and the tasks returned
 * while it was down: their ENDs wait for Redis. Whatever reaches the emptied Redis first, the
 * ENDs or the worker's re-assertion of the tasks it holds, every task ends as its function did,
 * once: none is lost with the data.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { startRedis, until } from './helpers/redis-server.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe('tasks that return while Redis is down, Redis back without its data', () => {
  it('end succeeded, once: their ENDs are not refused for the hash Redis lost', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const o = server.options();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let runs = 0;
    const w = new Worker({ port: 0, redis: o, concurrency: 3, heartbeatInterval: 200, logger: quiet });
    w.addTaskFunction('gated', async (t) => {
      runs++;
      await gate;
      return t.data;
    });
    const c = new Client({ redis: o });
    cleanup.push(() => c.close(), () => w.stop());
    await w.start();
    const ids = await Promise.all([1, 2, 3].map((n) => c.submit('gated', n)));
    await until(() => w.running.length === 3, 'three running');
    await server.kill('SIGKILL');
    release(); // the functions return while Redis is down: their ENDs wait
    await new Promise((r) => setTimeout(r, 300));
    await server.start(); // empty
    const ended = await Promise.all(ids.map((id) => c.wait(id, { timeout: 15_000 })));
    expect(ended.map((t) => [t.outcome, t.result, t.attempt])).toEqual([
      ['succeeded', 1, 1],
      ['succeeded', 2, 1],
      ['succeeded', 3, 1],
    ]);
    expect(runs).toBe(3);
  }, 30_000);
});
