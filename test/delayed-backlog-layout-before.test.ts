/**
 * While more delayed tasks are due than a claim promotes, what was queued after they fell due
 * does not start before them (docs/semantics.md, Delayed tasks). That holds as well for tasks
 * delayed under the layout before (`new-task:delayed`, keyed by id: written by a client of the
 * version before during a rolling upgrade, or left by it), which a claim still promotes.
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

describe('a backlog of due tasks held under their ids (the layout before), a task queued after they fell due', () => {
  it('is not claimed while tasks of that backlog are still delayed', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const backlog = await c.submitMany(Array.from({ length: 150 }, (_, i) => ({ fn: 'f', data: { i }, options: { delay: 200 } })));
    // as the version before wrote them: the id in new-task:delayed, no place on the hash
    for (const id of backlog) {
      const member = (await redis.hget(keys.task(id), 'member'))!;
      const due = (await redis.zscore(keys.placedDelayed, member))!;
      await redis.multi().zrem(keys.placedDelayed, member).zadd(keys.delayed, due, id).hdel(keys.task(id), 'member', 'score').exec();
    }
    await new Promise((r) => setTimeout(r, 400));
    // queued after the backlog fell due
    const late = await c.submit('f', { late: true });
    const r = await claim(redis, keys, requestFor('w:1', 500, 1 << 20, ['f']));
    const taken = r.claimed.map((t) => t.id);
    const stillDelayed = await redis.zcard(keys.delayed);
    // (the claim promotes 100: the rest of the backlog is still delayed after it)
    expect(stillDelayed).toBeGreaterThan(0);
    expect(taken, `${stillDelayed} of the backlog still delayed`).not.toContain(late);
  });
});
