/**
 * During a rolling upgrade a client of the version before may cancel a task delayed by this
 * version (it takes the task's id out of `new-task:delayed`, nothing else), and once the ended
 * task is cleaned up, its id may be submitted again, delayed further, by a client of the version
 * before. The task submitted again is promoted at its own due time, not at the first one's:
 * what `new-task:delayed:placed` still holds of the cancelled task is not its.
 *
 * The version before is this library without `new-task:delayed:placed` (its name is one no key
 * has), as in delayed-mixed-versions.test.ts.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { claim, submitCallArgs } from '../src/effects/queue.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { cancelBefore, fcallBefore } from './helpers/version-before.js';
import { keysFor, requestFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe('an id delayed by this version, cancelled by the version before, cleaned up, submitted again by the version before for later', () => {
  it('is not promoted when the cancelled one would have been due', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('echo', { n: 1 }, { delay: 300, id: 'report-42' });
    const raw = (await redis.hget(keys.task(id), 'data'))!;
    expect(await cancelBefore(redis, keys, id)).toBe('cancelled');
    // the monitor's cleanup of the ended task
    await redis.multi().del(keys.task(id)).lrem(keys.ended, 0, id).exec();
    // submitted again, by a client of the version before, due in a minute (its arguments laid
    // out as submit.lua's are now: the version before is this library, one key renamed)
    const again = await fcallBefore(redis, 'submit', [keys.queued, keys.newQueue], [...submitCallArgs(keys, 'all'), id, raw, 'echo', '', 0, '', 'in:60000', '']);
    expect(again).toEqual([1]);
    await new Promise((r) => setTimeout(r, 500));
    const r = await claim(redis, keys, requestFor('new:1', 1, 1 << 20, ['echo']));
    expect(r.claimed.map((t) => t.id), 'claimed by this version').toEqual([]);
    expect(await redis.hget(keys.task(id), 'state')).toBe('DELAYED');
    expect(await redis.hget(keys.counts, 'd:echo')).toBe('1');
  }, 20_000);
});
