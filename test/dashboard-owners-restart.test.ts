/**
 * A worker process killed and started again at its address (a supervisor's restart, an OOM
 * kill): the dead process's entry in `workers:owners` stands still until it falls overdue (three
 * of its heartbeats). A dashboard that watched the dead one heartbeat before counts it until it
 * has missed two heartbeats, never after: "(2 processes)" is the mark of two hosts behind one
 * address, and a plain restart shows it for two heartbeats at most.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawnWorker, type WorkerProcess } from './helpers/processes.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';
import { keysFor } from './properties/harness.js';
import { OwnersWatch, readWorkers } from '../src/dashboard/worker-view.js';

let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
});
afterAll(async () => {
  await server.stop();
});

const ADDRESS = '10.255.255.4:7000';

it('a worker killed and started again at its address is shown as one process once the killed one has missed two heartbeats', async () => {
  const prefix = 'restart:';
  const parts = [keysFor(prefix)];
  const base = { redis: server.options({ keyPrefix: prefix }), port: 0, advertise: ADDRESS, heartbeatInterval: 1500 };
  const owners = new OwnersWatch();
  const processes = async () => (await readWorkers(redis, parts, owners)).workers.find((w) => w.address === ADDRESS)?.processes ?? [];
  const procs: WorkerProcess[] = [];
  try {
    const first = await spawnWorker(base);
    procs.push(first);
    // the dashboard sees it heartbeat
    await until(async () => (await processes()).length === 1, 'the first process shown', 10_000);
    // killed, and started again at once
    await first.kill('SIGKILL');
    const killedAt = Date.now();
    const second = await spawnWorker(base);
    procs.push(second);
    // the dashboard reads on, as its ticker does: the killed one's entry, which it saw move,
    // counts until it has missed two heartbeats (src/address-owners.ts), never after
    const shown: [number, number][] = [];
    const end = Date.now() + 6000;
    while (Date.now() < end) {
      shown.push([Date.now() - killedAt, (await processes()).length]);
      await new Promise((r) => setTimeout(r, 100));
    }
    const afterTwoBeats = shown.filter(([t]) => t > 2 * 1500 + 500).map(([, n]) => n);
    expect(afterTwoBeats.length).toBeGreaterThan(10);
    expect(Math.max(...afterTwoBeats)).toBe(1);
    expect(Math.min(...afterTwoBeats)).toBe(1);
  } finally {
    for (const p of procs) await p.kill('SIGKILL');
  }
}, 40_000);
