/**
 * CLI lines that name what the library calls things, not what the user typed:
 * - `submit --redis-durable 1` on a Redis with no replica: "... 0 of the 1 replica(s)
 *   redis.durable asks for acknowledged it ...": the flag is --redis-durable (the CLI turns
 *   ConfigError's names into flags, not NotDurableError's);
 * - json-data nested deeper than JSON.parse's stack: "json-data is not valid JSON (Maximum call
 *   stack size exceeded)": it is valid JSON, nested too deep (a worker could not read it past
 *   1000 levels anyway, which the library says of such data).
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliSwarm, expectOneLine } from './helpers/cli.js';
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

describe('what a CLI line names', () => {
  it('submit --redis-durable on a Redis without replicas names the flag, not redis.durable', async () => {
    const s = cliSwarm(server, redis, 'words1:');
    const r = await s.run('submit', 'render', '--redis-durable', '1', '--redis-durable-timeout', '200');
    expectOneLine(r, 1, /--redis-durable/);
    expect(r.stderr).not.toMatch(/redis\.durable/);
    await s.client.close();
  });

  it('json-data nested 50000 deep is said to be nested too deep, not "not valid JSON"', async () => {
    const s = cliSwarm(server, redis, 'words2:');
    const r = await s.run('submit', 'render', '['.repeat(50_000) + ']'.repeat(50_000));
    expectOneLine(r, 2, /json-data/);
    expect(r.stderr).toMatch(/nested|deep/);
    expect(r.stderr).not.toMatch(/not valid JSON|call stack/);
    expect(await s.keys()).toEqual([]);
    await s.client.close();
  });
});
