/**
 * A delayed task whose hash was edited by hand (its `member` field garbled, or its `score` not a
 * number) still runs once due: it is promoted at a place of its own, never under a member that
 * names no task, which a claim would pop and find nothing to run under.
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

describe('a delayed task, its hash edited by hand', () => {
  for (const [what, edit] of [
    ['member garbled', { member: 'garbled' }],
    ['score nan', { score: 'nan' }],
    ['member removed', null],
  ] as const) {
    it(`${what}: claimed once due`, async () => {
      const o = server.options();
      const keys = keysFor(o.keyPrefix);
      const c = new Client({ redis: o });
      cleanup.push(() => c.close());
      const id = await c.submit('echo', { n: 1 }, { delay: 200 });
      if (edit) await redis.hset(keys.task(id), edit);
      else await redis.hdel(keys.task(id), 'member');
      await new Promise((r) => setTimeout(r, 400));
      const taken: string[] = [];
      for (let k = 0; k < 3 && !taken.length; k++) {
        const r = await claim(redis, keys, requestFor('w:1', 1, 1 << 20, ['echo']));
        taken.push(...r.claimed.map((t) => t.id));
      }
      expect(taken, `state ${await redis.hget(keys.task(id), 'state')}`).toEqual([id]);
      expect(await redis.hget(keys.counts, 'd:echo')).toBeNull();
      expect(await redis.hget(keys.counts, 'q:echo')).toBe('0');
    });
  }
});
