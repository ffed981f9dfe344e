/**
 * Re-assertion covers the tasks a worker holds, and a task RUNNING in Redis is not always one:
 * a claim Redis ran whose reply the worker reads only past the command timeout (1 s here: the
 * worker's process did not run for a second, as on a loaded machine) is given up, and what it
 * took is handed back to the queue (claim-recover.lua). Redis losing its data in that window
 * loses the task with it: no copy of it is anywhere else. A test of re-assertion must wait for
 * the worker to hold the task, not only for Redis to show it RUNNING (test/edges.test.ts did
 * not, and failed once in CI when the test process stalled right after the claim went out).
 */
import { afterEach, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Worker } from '../src/index.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** the process does not run for `ms`: timers fall due before the replies waiting on sockets are read */
const stall = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

/**
 * A worker whose process stalls for 1.2 s right after its first claim goes out (the task waits
 * in the queue already, so that claim takes it): Redis runs the claim, and its reply is read
 * past the command timeout.
 */
async function lateClaim(): Promise<{ server: RedisServer; c: Client; w: Worker; id: string }> {
  const server = await startRedis();
  cleanup.push(() => server.stop());
  const o = server.options();
  const c = new Client({ redis: o });
  const w = new Worker({ port: 0, redis: o, heartbeatInterval: 100, logger: quiet });
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  w.addTaskFunction('keep', async () => {
    await finished;
    return 'kept';
  });
  cleanup.push(() => c.close(), () => w.stop(), () => finish());
  const id = await c.submit('keep', { manual_end: true });
  const redis = (w as unknown as { redis: Redis }).redis;
  const send = redis.sendCommand.bind(redis);
  let stalled = false;
  redis.sendCommand = ((command, ...rest) => {
    const sent = send(command, ...rest);
    if (!stalled && command.name === 'fcall' && String(command.args[0]).endsWith('_claim')) {
      stalled = true;
      setImmediate(() => stall(1200));
    }
    return sent;
  }) as Redis['sendCommand'];
  await w.start();
  return { server, c, w, id };
}

it('a task RUNNING in Redis whose claim reply came past the timeout is not held by the worker: Redis losing its data then loses it', async () => {
  const { server, c, w, id } = await lateClaim();
  await until(async () => (await c.get(id))?.state === 'RUNNING', 'RUNNING in Redis');
  // the worker gave the claim up: it holds nothing (the precondition edges.test.ts took for granted)
  expect(w.running).toEqual([]);
  let reconciled = false;
  w.on('state', (v: unknown) => {
    if (v === 'reconciling') reconciled = true;
  });
  await server.restart();
  // reconciled with the emptied Redis, and heartbeating since: there was nothing to re-assert
  await until(() => reconciled && (w.state as { connected?: unknown }).connected !== undefined, 'reconciled');
  await new Promise((r) => setTimeout(r, 500));
  expect(await c.get(id)).toBeNull();
  expect(w.running).toEqual([]);
});

it('the same task, once the worker holds it (claimed again from the queue), is re-asserted after Redis lost its data', async () => {
  const { server, c, w, id } = await lateClaim();
  const held = await until(async () => {
    if (!w.running.includes(id)) return null;
    const t = await c.get(id);
    return t?.state === 'RUNNING' ? t : null;
  }, 'held by the worker');
  await server.restart();
  const back = await until(async () => {
    const t = await c.get(id);
    return t?.state === 'RUNNING' ? t : null;
  }, 're-asserted', 10_000);
  // the claim that runs it: the one given up handed its attempt back
  expect(back).toMatchObject({ manualEnd: true, start: held.start, attempt: 1 });
});
