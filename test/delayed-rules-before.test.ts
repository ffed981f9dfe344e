/**
 * A producer whose ACL rules were made before `new-task:delayed:placed` existed (docs/deployments.md:
 * load the new rules first) is refused this version's delayed submit and its cancel of a delayed
 * task before anything is written: the id stays free, and a task cancelled that way stays DELAYED,
 * in both zsets, to run when due (a refusal halfway left a hash DELAYED in no zset, never run).
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { aclRule } from '../src/acl.js';
import { resolveRedisConfig } from '../src/config.js';
import { Client } from '../src/index.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

/** a producer user whose rules lack the placed key, as the version before made them */
async function producerBefore(keyPrefix: string): Promise<{ username: string; password: string }> {
  const rule = aclRule('producer', resolveRedisConfig({ keyPrefix }));
  const placed = ` ~${keyPrefix}new-task:delayed:placed`;
  expect(rule).toContain(placed);
  await redis.call('ACL', 'SETUSER', 'producer-before', ...rule.replace(placed, '').split(' '), '>before-pw');
  return { username: 'producer-before', password: 'before-pw' };
}

describe('a producer under the rules of the version before', () => {
  it('is refused a delayed submit, and nothing is written', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    // (the library loaded, as a process of this version with the rights to load it has)
    const full = new Client({ redis: o });
    cleanup.push(() => full.close());
    await full.submit('echo', null, { id: 'now' });
    const c = new Client({ redis: { ...o, ...(await producerBefore(o.keyPrefix)) } });
    cleanup.push(() => c.close());
    await expect(c.submit('echo', null, { id: 'later', delay: 60_000 })).rejects.toThrow(/delayed:placed|NOPERM|access/);
    expect(await redis.exists(keys.task('later'))).toBe(0);
    expect(await redis.zcard(keys.delayed)).toBe(0);
    expect(await redis.hget(keys.counts, 'd:echo')).toBeNull();
  });

  it('is refused the cancel of a delayed task, which stays DELAYED in both zsets', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const full = new Client({ redis: o });
    cleanup.push(() => full.close());
    const id = await full.submit('echo', null, { delay: 60_000 });
    const c = new Client({ redis: { ...o, ...(await producerBefore(o.keyPrefix)) } });
    cleanup.push(() => c.close());
    await expect(c.cancel(id)).rejects.toThrow(/delayed:placed|NOPERM|access/);
    expect((await full.get(id))?.state).toBe('DELAYED');
    expect(await redis.zscore(keys.delayed, id)).not.toBeNull();
    expect(await redis.zcard(keys.placedDelayed)).toBe(1);
    expect(await redis.hget(keys.counts, 'd:echo')).toBe('1');
  });
});
