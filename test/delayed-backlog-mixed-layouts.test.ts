/**
 * Due tasks are promoted in due order, whichever layout holds them: a task delayed under the
 * layout before (`new-task:delayed`, keyed by id: written by a client of the version before
 * during a rolling upgrade) due before a backlog of this version's due tasks is promoted first,
 * and the claims go on taking the backlog's tasks as they are promoted, rather than take
 * nothing of that function until the whole backlog has been promoted.
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

describe('one task of the layout before due first, then a backlog of 350 of this version', () => {
  it('each claim of one task takes the next in due order', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const old = await c.submit('f', { old: true }, { delay: 100 });
    // as the version before wrote it: the id in new-task:delayed, no place on the hash
    const member = (await redis.hget(keys.task(old), 'member'))!;
    await redis.multi().zrem(keys.placedDelayed, member).hdel(keys.task(old), 'member', 'score').exec();
    const backlog = await c.submitMany(Array.from({ length: 350 }, (_, i) => ({ fn: 'f', data: { i }, options: { delay: 200 } })));
    await new Promise((r) => setTimeout(r, 400));
    const taken: string[] = [];
    for (let k = 0; k < 3; k++) {
      const r = await claim(redis, keys, requestFor('w:1', 1, 1 << 20, ['f']));
      taken.push(...r.claimed.map((t) => t.id));
    }
    expect(taken).toEqual([old, backlog[0], backlog[1]]);
  });
});
