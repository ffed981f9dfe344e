/**
 * While more delayed tasks are due than a claim promotes, a function with tasks still delayed
 * takes only what is placed before the first due task not promoted yet, and the ones promoted go
 * on being taken (docs/semantics.md, Delayed tasks). Groups take turns: a group whose head was
 * queued after the backlog fell due waits, and the turn passes to a group whose head is placed
 * before it, rather than the function taking nothing until the whole backlog is promoted.
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

describe('a backlog of due tasks in one group, a task of another group queued after they fell due', () => {
  it('a claim takes a promoted task of the backlog, not nothing', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const backlog = await c.submitMany(Array.from({ length: 250 }, (_, i) => ({ fn: 'f', data: { i }, options: { group: 'g2', delay: 200 } })));
    await new Promise((r) => setTimeout(r, 400));
    // queued after the backlog fell due, in a group of its own
    const late = await c.submit('f', { late: true }, { group: 'g1' });
    const taken: string[] = [];
    for (let k = 0; k < 2; k++) {
      const r = await claim(redis, keys, requestFor('w:1', 1, 1 << 20, ['f']));
      taken.push(...r.claimed.map((t) => t.id));
    }
    expect(taken, `queued in f's structure: ${await redis.hget(keys.counts, 'q:f')}`).toEqual(backlog.slice(0, 2));
    expect(taken).not.toContain(late);
  });
});
