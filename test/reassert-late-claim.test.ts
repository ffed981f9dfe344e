/**
 * Re-assertion covers the tasks a worker holds. A claim Redis ran while the worker's process
 * did not run (stalled 1.2 s right after the claim went out, past the 1 s command timeout, as on
 * a loaded machine) was given up when the process ran again: the call's deadline came due
 * before the reply waiting in the socket was read, and a task RUNNING in Redis was held by no
 * worker, to be lost with Redis's data (test/edges.test.ts took the worker to hold it, and
 * failed once in CI). A deadline is judged after the turn's I/O now (src/command-deadlines.ts):
 * the reply is read, the worker holds the task, and re-asserts it when Redis loses its data.
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
async function lateClaim(): Promise<{ server: RedisServer; c: Client; w: Worker; id: string; warned: string[] }> {
  const server = await startRedis();
  cleanup.push(() => server.stop());
  const o = server.options();
  const c = new Client({ redis: o });
  const warned: string[] = [];
  const w = new Worker({ port: 0, redis: o, heartbeatInterval: 100, logger: { ...quiet, warn: (m: unknown) => void warned.push(String(m)) } });
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
  return { server, c, w, id, warned };
}

it('a claim whose reply waited in the socket while the process stalled past its deadline is taken: the worker holds the task', async () => {
  const { c, w, id, warned } = await lateClaim();
  await until(async () => (await c.get(id))?.state === 'RUNNING', 'RUNNING in Redis');
  await until(() => w.running.includes(id), 'held by the worker');
  // (taken, not given up and handed back to be claimed again)
  expect(warned.filter((l) => /recovered \d+ claim|timed out/.test(l)), warned.join('\n')).toEqual([]);
});

it('the same task, held by the worker, is re-asserted after Redis lost its data', async () => {
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
  expect(back).toMatchObject({ manualEnd: true, start: held.start, attempt: 1 });
});
