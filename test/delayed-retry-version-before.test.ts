/**
 * During a rolling upgrade a task delayed by this version may be promoted and run by a worker of
 * the version before, whose attempt fails and is retried after a backoff: the version before
 * writes the retry in `new-task:delayed` under the task's id, its place (the hash's member)
 * kept. A claim of this version then promotes the retry when its backoff is over, not before:
 * what `new-task:delayed:placed` still holds of the task's first wait is over.
 *
 * The version before is this library without `new-task:delayed:placed` (its name is one no key
 * has), as in delayed-mixed-versions.test.ts.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { claim } from '../src/effects/queue.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { claimBefore, fcallBefore } from './helpers/version-before.js';
import { keysFor, requestFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe('a task delayed by this version, run by a worker of the version before, its attempt retried in a minute', () => {
  it('stays DELAYED until its backoff is over when a claim of this version comes', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('echo', { n: 1 }, { delay: 200 });
    await new Promise((r) => setTimeout(r, 400));
    // a worker of the version before promotes and claims it
    const req = requestFor('old:1', 1, 1 << 20, ['echo']);
    const r = await claimBefore(redis, keys, req);
    expect(r.claimed.map((t) => t.id)).toEqual([id]);
    // its attempt fails: retried in a minute
    const fin = await fcallBefore(redis, 'finish', [keys.leases, keys.ended, keys.newQueue, keys.taskSet], [keys.taskKeyPrefix, id, r.claimed[0]!.lease, 'retry:60000', '"boom"']);
    expect(fin).toEqual([1]);
    expect(await redis.hget(keys.task(id), 'state')).toBe('DELAYED');
    // a worker of this version claims
    const now = await claim(redis, keys, requestFor('new:1', 1, 1 << 20, ['echo']));
    expect(now.claimed.map((t) => t.id), 'claimed by this version').toEqual([]);
    expect(await redis.hget(keys.task(id), 'state')).toBe('DELAYED');
    expect(await redis.hget(keys.counts, 'd:echo')).toBe('1');
  }, 20_000);
});
