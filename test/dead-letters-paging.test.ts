/**
 * Client.deadLetters({ limit, offset }) pages the dead letters, newest first. Neither bound was
 * checked: `limit: 0` (or any limit <= 0) asked ZREVRANGE 0 -1 and listed the whole store, a
 * negative offset read from the oldest end, and a limit that is no whole number (NaN, 1.5, a
 * string) made Redis refuse the range inside a MULTI, whose failed reply was then read as a list:
 * a TypeError. Each is a ConfigError naming the bound now.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Logger } from 'tslog';
import { Client, Worker } from '../src/index.js';
import { redisPerFile } from './helpers/suite.js';
import type { RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s: RedisServer, r: Redis) => {
  server = s;
  redis = r;
});

let options: ReturnType<RedisServer['options']>;
beforeAll(async () => {
  // three dead letters: entries that are not JSON, parked by a worker's claim
  options = server.options();
  for (let i = 0; i < 3; i++) await redis.lpush(`${options.keyPrefix}new-task`, `junk ${i}`);
  const w = new Worker({ port: 0, redis: options, logger: new Logger({ type: 'hidden' }) });
  w.addTaskFunction('f', async () => null);
  await w.start();
  const c = new Client({ redis: options });
  for (let i = 0; i < 100 && (await c.deadLetters()).length < 3; i++) await new Promise((r) => setTimeout(r, 50));
  await w.stop();
  await c.close();
});

function client(): Client {
  const c = new Client({ redis: options });
  cleanup.push(() => c.close());
  return c;
}

describe('deadLetters bounds', () => {
  it('three are listed by default', async () => {
    expect(await client().deadLetters()).toHaveLength(3);
  });

  it('limit 0 lists none, never the whole list', async () => {
    expect(await client().deadLetters({ limit: 0 })).toEqual([]);
  });

  it('offset and limit page through them, newest first', async () => {
    const c = client();
    const all = (await c.deadLetters()).map((l) => l.key);
    const pages = [...(await c.deadLetters({ limit: 2 })), ...(await c.deadLetters({ offset: 2, limit: 2 }))].map((l) => l.key);
    expect(pages).toEqual(all);
    expect(await c.deadLetters({ offset: 3 })).toEqual([]);
  });

  it('a negative limit or offset is refused as a ConfigError, not read from the other end', async () => {
    const c = client();
    for (const o of [{ limit: -1 }, { offset: -1 }]) {
      await expect(c.deadLetters(o), JSON.stringify(o)).rejects.toMatchObject({ code: 'ERR_CONFIG' });
    }
  });

  it('a limit that is no whole number is a ConfigError naming it, not a TypeError', async () => {
    const c = client();
    for (const limit of [NaN, 1.5, Infinity, '5' as unknown as number]) {
      await expect(c.deadLetters({ limit }), String(limit)).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringMatching(/limit/) });
    }
  });
});
