/**
 * Two live worker processes under one address; one is killed (SIGKILL), then the other stops.
 * The killed one's entry in `workers:owners` is not overdue yet (three of its heartbeats), and
 * the one stopping saw it move forward while it lived. Nobody heartbeats under the address any
 * more: its stop must unlist it (peers count a listed address that never answers against their
 * quorum, until the monitors prune it two taskTimeouts later).
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawnWorker, type WorkerProcess } from './helpers/processes.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
});
afterAll(async () => {
  await server.stop();
});

const ADDRESS = '10.255.255.5:7000';
const TWIN = /^ERROR another worker process \("([^"]+)"\) heartbeats under this worker's address/;

it('the stop of the last live process under an address unlists it, its killed twin notwithstanding', async () => {
  const prefix = 'crashed-twin:';
  const base = { redis: server.options({ keyPrefix: prefix }), port: 0, advertise: ADDRESS };
  const procs: WorkerProcess[] = [];
  try {
    const stays = await spawnWorker({ ...base, heartbeatInterval: 100 });
    procs.push(stays);
    const killed = await spawnWorker({ ...base, heartbeatInterval: 3000 });
    procs.push(killed);
    await stays.waitFor(TWIN, 15_000); // (it saw the other move: a live twin)
    await killed.kill('SIGKILL');
    // (gone once it has missed two of its heartbeats: src/address-owners.ts)
    await new Promise((r) => setTimeout(r, 7000));
    expect(await stays.kill('SIGTERM')).toBe(0);
    expect(await redis.sismember(`${prefix}workers`, ADDRESS)).toBe(0);
  } finally {
    for (const p of procs) await p.kill('SIGKILL');
  }
}, 40_000);
