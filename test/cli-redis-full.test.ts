/**
 * The CLI against a Redis at its maxmemory (noeviction): it answers, and refuses every write
 * that may grow memory with "OOM command not allowed when used memory > 'maxmemory'.". A command
 * that writes (submit, limit, pause, schedule) printed "task-swarm: unexpected error: OOM ...",
 * the form of a fault of task-swarm's. Each must be one line saying that Redis refused the write
 * because it is full (at its maxmemory), status 1.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { expectOneLine, runMain } from './helpers/cli.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
  // (the function library loaded first, as a swarm that ran before the Redis filled up has it)
  expect((await runMain(['status', '--key-prefix', 'full:'], { REDIS_URL: server.url })).code).toBe(0);
  await redis.config('SET', 'maxmemory-policy', 'noeviction');
});
// (a maxmemory far under what any Redis uses: every write that may grow memory is refused,
// whatever a test's connections free meanwhile; set from the memory used, 256 KB and then 1 MB
// under it let a `pause` and a `limit` through now and then)
beforeEach(async () => {
  await redis.config('SET', 'maxmemory', '1');
  await expect(redis.set('probe', 'x')).rejects.toThrow(/OOM/);
});
afterAll(async () => {
  await redis.config('SET', 'maxmemory', '0');
  await server.stop();
});

describe('a command against a Redis at its maxmemory', () => {
  it.each([
    [['submit', 'render', '{"frame":1}']],
    [['limit', 'render', '--concurrency', '2']],
    [['pause', 'render']],
    [['schedule', 'nightly', 'render', '--every', '60000']],
  ])('%j: one line saying Redis is full, not "unexpected error"', async (argv) => {
    const r = await runMain([...argv, '--key-prefix', 'full:'], { REDIS_URL: server.url });
    expectOneLine(r, 1, /maxmemory|full|out of memory/i);
    expect(r.stderr).not.toMatch(/unexpected error/);
  });
});
