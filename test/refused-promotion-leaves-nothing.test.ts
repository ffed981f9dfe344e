/**
 * A delayed task falling due is moved into its function's queue by a claim (lib/delayed.lua
 * promote). A key of that queue damaged by hand (WRONGTYPE) refuses the move: as for every script
 * that makes or moves a task (docs/semantics.md, "A write Redis refuses leaves no half-made
 * task"), nothing of it may be left half made: no hash QUEUED in no queue, nor a task DELAYED in
 * neither delayed zset; once the key is mended, it runs.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { claimAs, fnGroupsKey, keysFor } from './properties/harness.js';
import { submitTasks } from '../src/effects/queue.js';
import { retryDead } from '../src/effects/dead-letters.js';

let server: RedisServer;
let redis: Redis;
redisPerFile((s, r) => {
  server = s;
  redis = r;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a promotion refused at its function\'s queue', () => {
  it('leaves the delayed task whole, promoted once the key is mended', async () => {
    const keys = keysFor(server.options().keyPrefix);
    const raw = JSON.stringify({ id: 'd-1', function: 'fd', group: 'g', data: 1 });
    const [r] = await submitTasks(redis, keys, [{ id: 'd-1', raw, fn: 'fd', group: 'g', priority: 0, manualEnd: false, due: { delay: 50 } }]);
    expect(r!.queued).toBe(true);
    await redis.set(fnGroupsKey(keys, 'fd'), 'not a sorted set');
    await sleep(120);
    // a worker of another function claims: the due task is promoted in that claim
    await claimAs(redis, keys, 'w1:1', 1, 1_000_000, ['fo']).catch(() => undefined);
    const state = await redis.hget(keys.task('d-1'), 'state');
    const inDelayed = (await redis.zscore(`${keys.newQueue}:delayed`, 'd-1')) !== null;
    const dead = await redis.hget(keys.task('d-1'), 'dead');
    // still DELAYED where a promotion finds it, or parked (ended failed, a dead letter to retry)
    const whole = (state === 'DELAYED' && inDelayed) || (state === 'END' && dead !== null);
    expect(whole, `d-1 is ${state}, ${inDelayed ? '' : 'not '}in Q:delayed, ${dead ? '' : 'not '}parked`).toBe(true);
    expect(await redis.hget(`${keys.newQueue}:counts`, 'd:fd')).toBe(state === 'DELAYED' ? '1' : null);
    // mended: it is promoted (retried, when parked) and claimed
    await redis.del(fnGroupsKey(keys, 'fd'));
    if (dead !== null) expect(await retryDead(redis, keys, dead)).toBe(true);
    await claimAs(redis, keys, 'w1:1', 1, 1_000_000, ['fo']);
    const c = await claimAs(redis, keys, 'w2:1', 1, 1_000_000, ['fd']);
    expect(c.claimed.map((t) => t.id)).toEqual(['d-1']);
  });
});
