/**
 * The long wait's watch of Redis (watchRedis) with a connection kept: a Redis frozen under it,
 * one whose password changed and whose connections were closed, one made a replica. Each is
 * said within about one look.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { watchRedis } from '../src/cli/redis-session.js';
import { resolveRedisConfig } from '../src/config.js';
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

/** the watch's own connections on the server (its looks ask INFO) */
async function watchIds(): Promise<string[]> {
  return [...String(await redis.client('LIST')).matchAll(/^id=(\d+) .*cmd=info/gm)].map((m) => m[1]!);
}

describe('the watch with a connection kept', () => {
  it('a frozen Redis is said within about one look', async () => {
    if (!server.owned) return;
    const said: string[] = [];
    const unwatch = watchRedis(resolveRedisConfig({ ...server.options() }), (line) => said.push(line), 100);
    try {
      await until(async () => (await watchIds()).length > 0, 'the watch to keep a connection');
      await new Promise((r) => setTimeout(r, 300));
      const frozenAt = Date.now();
      server.freeze();
      try {
        await until(() => said.length > 0, 'the watch to say Redis is gone', 10_000);
        // (a look asks for 3 s; one more look's wait is the most allowed)
        expect(Date.now() - frozenAt).toBeLessThan(3000 + 100 + 1500);
        expect(said[0]).toMatch(/^waiting for Redis at .*no answer within 3 s/);
      } finally {
        server.thaw();
      }
      await until(() => said.length > 1, 'the watch to say Redis is back', 10_000);
      expect(said[1]).toMatch(/answers again/);
    } finally {
      unwatch();
    }
  }, 30_000);

  it("a password set and the watch's connection closed: said at the next look, with why", async () => {
    const said: string[] = [];
    const unwatch = watchRedis(resolveRedisConfig({ ...server.options() }), (line) => said.push(line), 100);
    try {
      await until(async () => (await watchIds()).length > 0, 'the watch to keep a connection');
      await redis.config('SET', 'requirepass', 'sekrit');
      try {
        for (const id of await watchIds()) await redis.client('KILL', 'ID', id);
        await until(() => said.length > 0, 'the watch to say Redis refuses it', 5000);
        expect(said[0]).toMatch(/^waiting for Redis at .*(NOAUTH|WRONGPASS|[Aa]uthentication)/);
      } finally {
        await redis.config('SET', 'requirepass', '');
      }
    } finally {
      unwatch();
    }
  }, 30_000);

  it('a Redis made a replica under the watch is said at the next look', async () => {
    const said: string[] = [];
    const unwatch = watchRedis(resolveRedisConfig({ ...server.options() }), (line) => said.push(line), 100);
    try {
      await until(async () => (await watchIds()).length > 0, 'the watch to keep a connection');
      // (a primary that is not there: the server stays a replica, refusing writes)
      await redis.replicaof('127.0.0.1', '1');
      try {
        await until(() => said.length > 0, 'the watch to say Redis is a replica', 5000);
        expect(said[0]).toMatch(/^waiting for Redis at .*replica/);
      } finally {
        await redis.replicaof('NO', 'ONE');
      }
    } finally {
      unwatch();
    }
  }, 30_000);
});
