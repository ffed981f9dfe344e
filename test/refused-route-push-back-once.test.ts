/**
 * An entry a claim can neither route nor park (its dead-letter store damaged by hand) goes back
 * to the ingress, on the left. A claim that routes entry by entry (a worker of one function, the
 * window plain) popped it again from the right once the entries before it were gone, refused it
 * again, pushed it back again: as many times as its window (64 entries at least, twice the
 * worker's room), each a copy of the entry, at every poll. It is handled once a claim.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Worker } from '../src/index.js';
import { buildKeys } from '../src/keys.js';
import { resolveRedisConfig } from '../src/config.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { collectingLogger } from './helpers/collecting-logger.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** how many times Redis has run `command` (inside scripts too) */
async function calls(command: string): Promise<number> {
  const m = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(await redis.info('commandstats'));
  return Number(m?.[1] ?? 0);
}

describe('an entry a claim can neither route nor park, alone in the ingress', () => {
  it('is popped and pushed back once a claim, not again and again within it', async () => {
    const o = server.options();
    const keys = buildKeys(resolveRedisConfig(o));
    await redis.lpush(keys.newQueue, 'not json');
    await redis.set(keys.dead.stats, 'not a hash');

    const { lines, logger } = collectingLogger();
    const w = new Worker({ port: 0, redis: o, logger, fetchTaskInterval: 300 });
    w.addTaskFunction('a', async (t) => t.data);
    cleanup.push(() => w.stop());
    await w.start();
    await until(() => lines.some((l) => /could not be routed nor parked/.test(l)), 'the refusal said');

    const [claims, pushes] = [await calls('fcall'), await calls('lpush')];
    await sleep(1500);
    const claimed = (await calls('fcall')) - claims;
    expect(claimed).toBeGreaterThan(0);
    expect((await calls('lpush')) - pushes).toBeLessThanOrEqual(claimed);
    expect(await redis.lrange(keys.newQueue, 0, -1)).toEqual(['not json']);
  }, 30_000);
});
