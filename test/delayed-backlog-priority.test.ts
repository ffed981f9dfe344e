/**
 * While more delayed tasks are due than a claim promotes, what was queued after they fell due
 * does not start before them (docs/semantics.md, Delayed tasks). A delayed task with a priority
 * is placed at its due time minus its priority's aging (lib/queue.lua), as any task of that
 * priority: a task of the same function, group and priority queued after the backlog fell due
 * comes after every task of the backlog, promoted in this claim or not.
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

describe('a backlog of due tasks of priority 5, a task of priority 5 queued after they fell due', () => {
  it('starts after the whole backlog, not between its promoted tasks and the rest', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const backlog = await c.submitMany(Array.from({ length: 150 }, (_, i) => ({ fn: 'f', data: { i }, options: { priority: 5, delay: 200 } })));
    await new Promise((r) => setTimeout(r, 400));
    // queued after the backlog fell due, of the same function, group (none) and priority
    const late = await c.submit('f', { late: true }, { priority: 5 });
    const taken: string[] = [];
    for (let k = 0; k < 3 && taken.length < 151; k++) {
      const r = await claim(redis, keys, requestFor('w:1', 120, 1 << 20, ['f']));
      taken.push(...r.claimed.map((t) => t.id));
    }
    expect(taken.length).toBe(151);
    expect(taken.indexOf(late), 'where the late task started').toBe(150);
    expect(taken.slice(0, 150)).toEqual(backlog);
  });

});
