/**
 * JSON typed on the command line holding an integer a double cannot hold exactly (past 2^53: an
 * order number, a snowflake id, a 64-bit counter). JSON.parse rounds it, and the task is queued
 * with another number: `submit f '{"order":12345678901234567890}'` queues
 * {"order":12345678901234567000}, and 9007199254740993 becomes 9007199254740992, nothing said.
 * The CLI already refuses a number too large to be carried at all (1e400, "which would arrive
 * as null"); one that would arrive as another number must be refused the same way, in one line
 * naming it, with nothing queued.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliSwarm, expectOneLine } from './helpers/cli.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
let redis: Redis;
let n = 0;

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
});
afterAll(async () => {
  await server.stop();
});

describe('an integer past 2^53 in JSON typed on the command line', () => {
  it.each([
    ['submit', (data: string) => ['submit', 'bill', data]],
    ['schedule', (data: string) => ['schedule', 'nightly', 'bill', data, '--every', '60000']],
  ])('%s: refused in one line naming the number, nothing written', async (_name, argv) => {
    for (const [data, number] of [
      ['{"order":12345678901234567890}', '12345678901234567890'],
      ['[9007199254740993]', '9007199254740993'],
      ['-9007199254740993', '-9007199254740993'],
    ] as const) {
      const s = cliSwarm(server, redis, `precision${++n}:`);
      const r = await s.run(...argv(data));
      expectOneLine(r, 2, new RegExp(number));
      expect(await s.keys()).toEqual([]);
      await s.client.close();
    }
  });

  it('the integers a double holds exactly, and decimals, are taken as typed', async () => {
    const s = cliSwarm(server, redis, `precision${++n}:`);
    const r = await s.run('submit', 'bill', '{"order":9007199254740991,"price":0.1}');
    expect(r.code, r.stderr).toBe(0);
    await s.client.close();
  });
});
