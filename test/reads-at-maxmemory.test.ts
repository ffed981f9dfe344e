/**
 * Redis at its maxmemory (noeviction) refuses writes, and every command queued in a MULTI,
 * reads too. What only reads must work there: it is when an operator looks (which tasks wait,
 * which dead letters to purge: the README names them as the memory to free). `get`,
 * `deadLetters` and `stats` rejected with a bare "EXECABORT Transaction discarded"; the CLI's
 * `status`, `dead` and `get` said "Redis refused the write: it is full"; and the CLI's `wait`
 * of a running task exited 1, the status of a task that failed, while the task went on and
 * succeeded once memory was freed.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Client, Monitor, Worker } from '../src/index.js';
import { runMain, runProcess } from './helpers/cli.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
let redis: Redis;
const prefix = 'full-reads:';
let client: Client;
let worker: Worker;
let monitor: Monitor;
let running = '';
let waited = '';
let queued = '';
let release: () => void = () => {};
let releaseWaited: () => void = () => {};

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
  await redis.config('SET', 'maxmemory-policy', 'noeviction');
  const o = { ...server.options(), keyPrefix: prefix };
  client = new Client({ redis: o });
  worker = new Worker({ redis: o, port: 0, concurrency: 2, heartbeatInterval: 200 });
  const held = new Promise<void>((r) => (release = r));
  const heldForWait = new Promise<void>((r) => (releaseWaited = r));
  worker.addTaskFunction('hold', async () => {
    await held;
    return 'held';
  });
  worker.addTaskFunction('hold-for-wait', async () => {
    await heldForWait;
    return 'held';
  });
  monitor = new Monitor({ redis: o, taskTimeout: 5000, checkTaskInterval: 500 });
  await worker.start();
  await monitor.start();
  // a dead letter: an entry the worker cannot read, pushed by hand, parked by its claim
  await redis.lpush(`${prefix}new-task`, '{"id": "broken", "function": 12}');
  await until(async () => (await client.deadLetters()).length === 1, 'the entry to be parked');
  running = await client.submit('hold');
  waited = await client.submit('hold-for-wait');
  await until(async () => (await client.get(running))?.state === 'RUNNING' && (await client.get(waited))?.state === 'RUNNING', 'the tasks to run');
  queued = await client.submit('hold');
}, 30_000);

// (every test at maxmemory, in whatever order they run: the wait's frees memory at its end)
beforeEach(async () => {
  await redis.config('SET', 'maxmemory', '1');
  await expect(redis.set('probe', 'x')).rejects.toThrow(/OOM/);
});

afterAll(async () => {
  await redis.config('SET', 'maxmemory', '0');
  release();
  releaseWaited();
  await worker?.stop();
  await monitor?.stop();
  await client?.close();
  await server.stop();
});

describe('reads at maxmemory', () => {
  it('the library: get, deadLetters, stats, limits, schedules, monitors and control answer', async () => {
    expect(await client.get(running)).toMatchObject({ state: 'RUNNING' });
    expect(await client.get(queued)).toMatchObject({ state: 'QUEUED' });
    expect(await client.deadLetters()).toHaveLength(1);
    expect(await client.stats()).toMatchObject({ workers: 1 });
    expect(await client.limits()).toEqual([]);
    expect(await client.schedules()).toEqual([]);
    expect(await client.monitors()).toHaveLength(1);
    // (control reads whether the task is there before it publishes: a read too)
    expect(await client.control(running, { event_name: 'ping', event: 1 })).toBeDefined();
  });

  it.each([[['status']], [['dead']], [['get', 'RUNNING_ID']], [['limits']], [['schedules']]])('the CLI: %j answers (status 0)', async (argv) => {
    const r = await runMain([...argv.map((a) => (a === 'RUNNING_ID' ? running : a)), '--key-prefix', prefix], { REDIS_URL: server.url });
    expect(r.code, r.stderr).toBe(0);
  });

  it("the CLI's wait of a running task waits, and ends with the task once memory is freed", async () => {
    const waiting = runProcess(['wait', waited, '--key-prefix', prefix], { REDIS_URL: server.url }, 30_000);
    await new Promise((r) => setTimeout(r, 1500));
    await redis.config('SET', 'maxmemory', '0');
    releaseWaited();
    const r = await waiting;
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ id: waited, outcome: 'succeeded', result: 'held' });
  }, 40_000);
});
