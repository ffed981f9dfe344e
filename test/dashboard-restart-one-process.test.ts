/**
 * A dashboard that reads just after a worker was SIGKILLed and restarted at its address (its
 * first read of the address) shows one process there: while no entry has moved, the one written
 * last. Both entries unsure, it showed two, marked as two hosts sharing the address ("give each
 * worker an address of its own"), though one process lives.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OwnersWatch, readWorkers } from '../src/dashboard/worker-view.js';
import { spawnWorker } from './helpers/processes.js';
import { keysFor } from './properties/harness.js';
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

const ADDRESS = '10.255.255.1:7000';

describe('a dashboard reading just after a worker restarted at its address', () => {
  it('shows one process there, not two', async () => {
    const prefix = 'restart-slow-hb:';
    // heartbeatInterval 3 s (the default taskTimeout's tenth): the killed one's entry stays
    // fresh for two of them, 6 s, longer than a restart takes
    const options = { redis: server.options({ keyPrefix: prefix }), port: 0, advertise: ADDRESS, heartbeatInterval: 3000 };
    const first = await spawnWorker(options);
    const names = async () => ((await redis.hget(`${prefix}workers:owners`, ADDRESS)) ?? '').split(' ').filter(Boolean).map((e) => e.split('@')[0]);
    await until(async () => (await names()).length === 1, 'the first process listed');
    await first.kill('SIGKILL');
    const second = await spawnWorker(options);
    try {
      await until(async () => (await names()).length === 2, 'the second process listed beside the killed one', 5000);
      // a dashboard started now (its first read of the address)
      const watch = new OwnersWatch();
      const shown = (await readWorkers(redis, [keysFor(prefix)], watch)).workers.map((w) => [w.address, w.processes]);
      expect(shown, 'one live process under the address').toEqual([[ADDRESS, [expect.any(String)]]]);
    } finally {
      await second.kill('SIGKILL');
    }
  }, 40_000);
});
