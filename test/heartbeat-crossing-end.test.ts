/**
 * A heartbeat that crosses a task's own END (or retry) in flight is no lease lost: the worker
 * neither warns nor abandons anything. Before renew.lua knew its own ENDs, a busy worker with a
 * quick heartbeat logged "lease lost" for tasks it had just ended itself.
 */
import { expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

it('a busy worker with a quick heartbeat ends thousands of tasks, retries included, and never reports a lease lost', async () => {
  const o = server.options();
  const warnings: string[] = [];
  const logger = { debug() {}, info() {}, warn: (m: unknown) => warnings.push(String(m)), error: (m: unknown) => warnings.push(String(m)) };
  const w = new Worker({ redis: o, port: 0, concurrency: 50, heartbeatInterval: 10, logger });
  w.addTaskFunction('quick', async (t) => {
    if ((t.data as { flaky?: boolean }).flaky && t.attempt === 1) throw new Error('once');
    return t.attempt;
  });
  await w.start();
  const c = new Client({ redis: o });
  cleanup.push(() => c.close(), () => w.stop());
  const ids = await c.submitMany(Array.from({ length: 4000 }, (_, i) => ({ fn: 'quick', data: { flaky: i % 10 === 0 }, options: { attempts: 2 } })));
  const ends = await Promise.all(ids.map((id) => c.wait(id, { timeout: 60_000 })));
  expect(ends.every((t) => t.outcome === 'succeeded')).toBe(true);
  // the retries happened: every tenth task ended at its second attempt, the others at their first
  expect(ends.map((t) => t.attempt)).toEqual(ids.map((_, i) => (i % 10 === 0 ? 2 : 1)));
  expect(warnings.filter((m) => /lease lost/.test(m))).toEqual([]);
});
