/**
 * Two live worker processes under one address whose heartbeats go at different paces (two
 * deployments given one `advertise`, each with its own heartbeatInterval): the faster one sees
 * the slower one's entry stand still between most pairs of its own heartbeats. A stop of the
 * faster one then must still leave the address listed, with its functions, for the slower one.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawnWorker, type WorkerProcess } from './helpers/processes.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
});
afterAll(async () => {
  await server.stop();
});

const ADDRESS = '10.255.255.3:7000';
const TWIN = /^ERROR another worker process \("([^"]+)"\) heartbeats under this worker's address/;

it('a stop of the faster of two live processes leaves the address listed for the slower one', async () => {
  const prefix = 'paces:';
  const base = { redis: server.options({ keyPrefix: prefix }), port: 0, advertise: ADDRESS };
  const procs: WorkerProcess[] = [];
  try {
    const fast = await spawnWorker({ ...base, heartbeatInterval: 100 });
    procs.push(fast);
    const slow = await spawnWorker({ ...base, heartbeatInterval: 1000 });
    procs.push(slow);
    // the fast one is told of the slow one: it knows it lives
    const slowName = TWIN.exec(await fast.waitFor(TWIN, 15_000))![1]!;
    const slowOverdue = async () => {
      const v = (await redis.hget(`${prefix}workers:owners`, ADDRESS)) ?? '';
      return v.split(' ').find((e) => e.startsWith(`${slowName}@`));
    };
    // just after a heartbeat of the slow one, give the fast one three of its own (the slow
    // one's entry stands still between them, as it does between nine in ten of them), then stop it
    const before = await slowOverdue();
    await until(async () => (await slowOverdue()) !== before, 'a heartbeat of the slow one', 5000);
    await new Promise((r) => setTimeout(r, 350));
    expect(await fast.kill('SIGTERM')).toBe(0);
    // the slow one still heartbeats under the address: it stays listed, with its functions
    expect(await redis.sismember(`${prefix}workers`, ADDRESS)).toBe(1);
    expect(await redis.hexists(`${prefix}workers:functions`, ADDRESS)).toBe(1);
    // (and its next heartbeats do not write its functions again)
    await new Promise((r) => setTimeout(r, 2500));
    expect(await redis.hexists(`${prefix}workers:functions`, ADDRESS)).toBe(1);
    expect(slow.lines.filter((l) => /^ERROR/.test(l) && !TWIN.test(l))).toEqual([]);
  } finally {
    for (const p of procs) await p.kill('SIGKILL');
  }
}, 40_000);
