/**
 * A control `stop` of a task whose retry fell due and was promoted by a claim (QUEUED at its
 * place, nothing claimed: a full worker's claim), between two attempts: the stop takes it out of
 * its queue and ends it `cancelled`, and no later claim gets it; its dedupe key is freed and its
 * group goes on (guard, passing). No worker runs here: the claims are made by hand, as a
 * worker's.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { claim, finishAndClaim } from '../src/effects/queue.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor, requestFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe('a stop of a retry promoted from its backoff, not claimed yet', () => {
  it.each([{ group: undefined }, { group: 'g' }])('cancels it (group $group): no claim gets it', async ({ group }) => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const a = await c.submit('f', null, { attempts: 3, key: `k-${group ?? ''}`, ...(group ? { group } : {}) });
    const [first] = (await claim(redis, keys, requestFor('w:1', 1, 1 << 20, ['f']))).claimed;
    expect(first?.id).toBe(a);
    await finishAndClaim(redis, keys, [{ id: a, lease: first!.lease, outcome: 'retry:100', payloadJson: '{"message":"boom"}' }], requestFor('w:1', 0, 1 << 20, ['f']));
    expect(await redis.hget(keys.task(a), 'state')).toBe('DELAYED');
    await new Promise((r) => setTimeout(r, 200));
    // a claim with no room for f promotes what is due
    await claim(redis, keys, { ...requestFor('w:2', 1, 1 << 20, ['f']), functions: [{ name: 'f', room: 0 }] });
    expect(await redis.hget(keys.task(a), 'state')).toBe('QUEUED');
    expect(await c.control(a, 'stop')).toBe('cancelled');
    expect(await c.get(a)).toMatchObject({ state: 'END', outcome: 'cancelled' });
    expect((await claim(redis, keys, requestFor('w:3', 5, 1 << 20, ['f']))).claimed).toEqual([]);
    // its dedupe key freed: a new task under it
    expect(await c.submit('f', null, { key: `k-${group ?? ''}` })).not.toBe(a);
    expect((await c.stats()).functions.f?.delayed ?? 0).toBe(0);
  });
});
