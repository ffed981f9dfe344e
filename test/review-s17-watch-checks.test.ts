/**
 * The CLI's long waits keep one connection to watch Redis (src/cli/redis-session.ts
 * `watchRedis`): what the first look refuses, a later look on that connection must refuse too.
 * A Redis made a replica under a waiting command (REPLICAOF, a failover by hand) keeps its
 * clients' connections and answers their PINGs, while every write of the swarm is refused:
 * the wait must say why it makes no progress, and say so again when it is a primary again.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { watchRedis } from '../src/cli/redis-session.js';
import { resolveRedisConfig } from '../src/config.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';

let primary: RedisServer;
let other: RedisServer;
let admin: Redis;

beforeAll(async () => {
  primary = await startRedis();
  other = await startRedis();
  admin = primary.client();
});
afterAll(async () => {
  await admin.replicaof('NO', 'ONE').catch(() => {});
  await primary.stop();
  await other.stop();
});

describe("the long wait's watch of Redis, on the connection it keeps", () => {
  it('says when the Redis it watches is made a replica, and when it is a primary again', async () => {
    const said: string[] = [];
    const unwatch = watchRedis(resolveRedisConfig(primary.options()), (line) => said.push(line), 100);
    try {
      // (the first look has opened the connection the later ones use)
      await new Promise((r) => setTimeout(r, 500));
      expect(said).toEqual([]);
      await admin.replicaof(other.host, String(other.port));
      await until(() => said.length > 0, 'the watch to say the server is a replica', 5000);
      expect(said[0]).toMatch(/^waiting for Redis at \S+: Redis at \S+ is a replica of 127\.0\.0\.1:\d+: every component writes/);
      await admin.replicaof('NO', 'ONE');
      await until(() => said.length > 1, 'the watch to say the server answers again', 5000);
      expect(said[1]).toMatch(/^Redis at \S+ answers again$/);
      expect(said).toHaveLength(2);
    } finally {
      unwatch();
    }
  }, 20_000);
});
