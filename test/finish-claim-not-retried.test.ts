/**
 * finish.lua's answer 2 (a retry END the `cancelling` mark wrote as the task's end, `stopped`)
 * through both ways an END goes out: finish.lua alone (finishTasks) and appended to a claim's
 * reply (finish-claim.lua, finishAndClaim), the claim beside it parsed as before; a resend of
 * the END under the same lease answers the same; an END of another task in the same call is
 * answered on its own (guard, passing: no test read the answer 2 itself).
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { claim, finishAndClaim } from '../src/effects/queue.js';
import { finishTasks, NOT_RETRIED } from '../src/effects/end-batch.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor, requestFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe('a retry END written as the end (stopped) where a retry was asked', () => {
  it('is answered NOT_RETRIED alone and in a claim, the claim parsed, a resend answered alike', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const a = await c.submit('f', null, { attempts: 3, key: 'ka' });
    const b = await c.submit('f', null, { attempts: 3 });
    const got = (await claim(redis, keys, requestFor('w:1', 2, 1 << 20, ['f']))).claimed;
    expect(got.map((t) => t.id).sort()).toEqual([a, b].sort());
    const la = got.find((t) => t.id === a)!.lease;
    const lb = got.find((t) => t.id === b)!.lease;
    await redis.hset(keys.task(a), 'cancelling', '1');
    const next = await c.submit('f', null, {});
    const both = await finishAndClaim(
      redis,
      keys,
      [
        { id: a, lease: la, outcome: 'retry:0', payloadJson: '{"message":"boom"}' },
        { id: b, lease: lb, outcome: 'retry:60000', payloadJson: '{"message":"boom"}' },
      ],
      requestFor('w:1', 2, 1 << 20, ['f']),
    );
    expect(both.written).toEqual([NOT_RETRIED, true]);
    expect(both.claimed.map((t) => t.id)).toEqual([next]);
    expect(await c.get(a)).toMatchObject({ state: 'END', outcome: 'stopped' });
    expect(await c.get(b)).toMatchObject({ state: 'DELAYED', reason: 'retry' });
    // resent (a reply lost): the same answers
    expect(
      await finishTasks(redis, keys, [
        { id: a, lease: la, outcome: 'retry:0', payloadJson: '{"message":"boom"}' },
        { id: b, lease: lb, outcome: 'retry:60000', payloadJson: '{"message":"boom"}' },
      ]),
    ).toEqual([NOT_RETRIED, true]);
    // the dedupe key of the task ended is free
    expect(await c.submit('f', null, { key: 'ka' })).not.toBe(a);
  });
});
