/**
 * A delayed submit that becomes the earliest due task wakes idle workers (a `wake` marker into
 * the empty `new-task`), so that their next wait ends when it falls due, whichever version they
 * run. During a rolling upgrade (or after a rollback) the claims may all be a worker's of the
 * version before: it promotes this version's delayed tasks from `new-task:delayed` by id, and
 * what `new-task:delayed:placed` still holds of them is over. A later delayed submit is the
 * earliest due all the same: the idle workers are woken, as they are when nothing was delayed.
 *
 * The version before is this library without `new-task:delayed:placed` (its name is one no key
 * has), as in delayed-mixed-versions.test.ts.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { claimBefore } from './helpers/version-before.js';
import { keysFor, requestFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe('a delayed submit, the earliest due, after a worker of the version before promoted one', () => {
  it('wakes idle workers (a marker on new-task)', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const first = await c.submit('f', { n: 1 }, { delay: 100 });
    await new Promise((r) => setTimeout(r, 250));
    // the only worker, of the version before: it promotes and takes the task (and the marker)
    const r = await claimBefore(redis, keys, requestFor('w:old', 1, 1 << 20, ['f']));
    expect(r.claimed.map((t) => t.id)).toEqual([first]);
    expect(await redis.zcard(keys.delayed)).toBe(0);
    // (its claim after: the marker its promotion left is taken, the worker idle)
    await claimBefore(redis, keys, requestFor('w:old', 1, 1 << 20, ['f']));
    expect(await redis.llen(keys.newQueue)).toBe(0);
    // nothing else delayed: this one is the earliest due
    await c.submit('f', { n: 2 }, { delay: 5000 });
    expect(await redis.lrange(keys.newQueue, 0, -1)).toEqual(['wake']);
  });
});
