/**
 * `new-task:delayed` is a zset an operator may edit by hand: an entry whose due time is below 0
 * (`ZADD new-task:delayed -inf <id>`, "run it now"; or a junk member at -1) is due, like any
 * entry due in the past. It is promoted (or dropped, naming no DELAYED task), and the delayed
 * tasks behind it are promoted when they fall due: the swarm's promotion never stops at it.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { claim } from '../src/effects/queue.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor, requestFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

async function claimUpTo(keys: ReturnType<typeof keysFor>, fn: string, tries: number): Promise<string[]> {
  const taken: string[] = [];
  for (let k = 0; k < tries; k++) {
    const r = await claim(redis, keys, requestFor('w:1', 10, 1 << 20, [fn]));
    taken.push(...r.claimed.map((t) => t.id));
  }
  return taken;
}

describe('an entry of new-task:delayed due below 0', () => {
  for (const score of ['-inf', '-1']) {
    it(`a task moved to ${score} by hand runs, and so does the next one delayed`, async () => {
      const o = server.options();
      const keys = keysFor(o.keyPrefix);
      const c = new Client({ redis: o });
      cleanup.push(() => c.close());
      const now = await c.submit('f', { n: 1 }, { delay: 60_000 });
      const later = await c.submit('f', { n: 2 }, { delay: 200 });
      // "run it now", by hand
      await redis.zadd(keys.delayed, score, now);
      await new Promise((r) => setTimeout(r, 400));
      expect((await claimUpTo(keys, 'f', 3)).sort()).toEqual([now, later].sort());
      expect(await redis.hget(keys.counts, 'd:f')).toBeNull();
    });

    it(`a junk member at ${score}: the delayed task behind it runs when due`, async () => {
      const o = server.options();
      const keys = keysFor(o.keyPrefix);
      const c = new Client({ redis: o });
      cleanup.push(() => c.close());
      await redis.zadd(keys.delayed, score, `junk${score}`);
      const id = await c.submit('g', { n: 1 }, { delay: 200 });
      await new Promise((r) => setTimeout(r, 400));
      expect(await claimUpTo(keys, 'g', 3)).toEqual([id]);
      expect(await redis.zscore(keys.delayed, `junk${score}`)).toBeNull();
    });
  }
});
