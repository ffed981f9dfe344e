/**
 * Review of issue 9: what a group (a tenant) leaves in Redis once all its tasks have ended. A
 * group set aside by its rate limit is listed in `new-task:g:<group>:blocked-in` (the functions
 * it waits in), and that key was dropped only when one of the group's tasks stopped running.
 * When the window passed, the claim put the group back in turn but left the key; if the task
 * then taken was not run (parked too_large at claim: Client.submit does not know the workers'
 * maxPayloadBytes), nothing ever dropped it: one key per such tenant, for good. A group put back
 * in turn by its window is no longer blocked in that function: the claim now says so.
 *
 * The class: once a group's tasks have all ended, no key that names the group stays without an
 * expiry (a rate window's recent starts expire on their own).
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client } from '../src/index.js';
import { spawnWorker } from './helpers/processes.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { expectNoneRunning } from './helpers/limits.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

/** keys of the swarm whose name holds `group`, with their ttl (-1: kept for good) */
async function keysNaming(keyPrefix: string, group: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const k of await redis.keys(`${keyPrefix}*${group}*`)) out[k] = await redis.pttl(k);
  return out;
}

describe('a group whose tasks have all ended', () => {
  it('leaves no key for good: a rate-limited group whose task was parked too_large when its window opened', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const w = await spawnWorker({ port: 0, redis: o, concurrency: 2, fetchTaskInterval: 30_000, maxPayloadBytes: 2000 });
    cleanup.push(() => w.kill());
    const group = 'tenant-big';
    await c.setLimit({ group }, { rate: { max: 1, per: 400 } });
    const small = await c.submit('nap', { ms: 0 }, { group });
    const large = await c.submit('nap', { ms: 0, pad: 'x'.repeat(3000) }, { group });
    expect((await c.wait(small, { timeout: 5000 })).outcome).toBe('succeeded');
    const parked = await c.wait(large, { timeout: 5000 });
    expect(parked.outcome).toBe('failed');
    expect(JSON.stringify(parked.error)).toMatch(/too_large/);
    // (its limit stays set: a tenant's limit is configuration, a field of new-task:limits)
    await expectNoneRunning(redis, o.keyPrefix);
    // (the task hashes hold the group in their data, not in their key names)
    const left = await keysNaming(o.keyPrefix, group);
    expect(Object.entries(left).filter(([, ttl]) => ttl < 0)).toEqual([]);
    await until(async () => Object.keys(await keysNaming(o.keyPrefix, group)).length === 0, 'the rate window to expire', 3000);
  });
});
