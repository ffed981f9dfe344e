/**
 * A worker stopping while Redis is away heartbeats its running tasks through the grace, and
 * each heartbeat fails: its log line names the server and why, as every other line about Redis
 * going away does, not ioredis's "Refer to maxRetriesPerRequest option", an option of ioredis
 * that no option of the worker sets.
 */
import { expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { startRedis, until } from './helpers/redis-server.js';

it('a heartbeat that fails while Redis is down says which Redis cannot be reached, naming no ioredis option', async () => {
  const server = await startRedis();
  const redis = server.options();
  const lines: string[] = [];
  const logger = { debug() {}, info() {}, warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };
  const w = new Worker({ redis, port: 0, logger, heartbeatInterval: 200, stopGrace: 8000, abortTimeout: 500 });
  let started = false;
  w.addTaskFunction('hold', (task) => {
    started = true;
    return new Promise((_, reject) => task.signal.addEventListener('abort', () => reject(task.signal.reason as Error)));
  });
  const c = new Client({ redis });
  let stopping: Promise<void> | undefined;
  try {
    await w.start();
    await c.submit('hold');
    // (its function called: RUNNING in Redis, its claim's reply may still be on its way, and a stop
    // hands such a claim back, nothing running, the worker leaving with no heartbeat to fail)
    await until(() => started, 'the task to run');
    await c.close();
    await server.kill();
    stopping = w.stop();
    const line = await until(() => lines.find((l) => l.startsWith('heartbeat failed')), 'a heartbeat to fail', 15_000);
    expect(line).toMatch(new RegExp(`^heartbeat failed: cannot reach Redis at redis://127\\.0\\.0\\.1:${server.port}: `));
    expect(line).not.toMatch(/maxRetriesPerRequest/);
  } finally {
    await stopping;
    await w.stop();
    await c.close();
    await server.stop();
  }
}, 40_000);
