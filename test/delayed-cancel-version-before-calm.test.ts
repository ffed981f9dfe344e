/**
 * An idle worker's claim costs Redis little when nothing waits for a time (the calm path,
 * claim.lua). During a rolling upgrade a client of the version before may cancel a task delayed
 * by this version, due in an hour: it takes the task's id out of `new-task:delayed`, and nothing
 * is delayed any more. Claims are then as cheap as before the task was submitted, not only once
 * the hour is over.
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
import { cancelBefore } from './helpers/version-before.js';
import { keysFor, requestFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

async function commandsRun(): Promise<number> {
  const info = await redis.info('commandstats');
  let n = 0;
  for (const m of info.matchAll(/calls=(\d+)/g)) n += Number(m[1]);
  return n;
}

/** what one idle claim of this version costs, in commands Redis ran */
async function idleClaimCost(keys: ReturnType<typeof keysFor>): Promise<number> {
  const a = await commandsRun();
  await claim(redis, keys, requestFor('new:1', 1, 1 << 20, ['echo']));
  const b = await commandsRun();
  return b - a;
}

describe('the only delayed task, due in an hour, cancelled by a client of the version before', () => {
  it('leaves an idle claim as cheap as one with nothing ever delayed', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    await idleClaimCost(keys);
    const calm = await idleClaimCost(keys);
    const id = await c.submit('echo', { n: 1 }, { delay: 3_600_000 });
    expect(await cancelBefore(redis, keys, id)).toBe('cancelled');
    await idleClaimCost(keys);
    const costs = [await idleClaimCost(keys), await idleClaimCost(keys)];
    expect(costs).toEqual([calm, calm]);
  }, 20_000);
});
