/**
 * During a rolling upgrade either version's processes may be the ones running, and an upgrade
 * may be rolled back: a task delayed by a client of this version must still run when due while
 * only workers of the version before claim (clients upgraded first, or workers rolled back).
 * The version before promotes only `new-task:delayed` (keyed by id; a hash's place, when it has
 * one, is kept); it never reads `new-task:delayed:placed`.
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

describe('a task delayed by this version, only workers of the version before claiming', () => {
  it('is claimed once due', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('echo', { n: 1 }, { delay: 200 });
    await new Promise((r) => setTimeout(r, 400));
    const req = requestFor('old:1', 1, 1 << 20, ['echo']);
    const taken: string[] = [];
    for (let k = 0; k < 3 && !taken.length; k++) {
      const r = await claimBefore(redis, keys, req);
      taken.push(...r.claimed.map((t) => t.id));
    }
    expect(taken, `state ${await redis.hget(keys.task(id), 'state')}`).toEqual([id]);
  });
});
