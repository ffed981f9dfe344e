/**
 * A claim routes the entries it pops from the ingress; one it cannot route (not JSON, or its
 * function's queue damaged) is parked in the dead-letter store. With that store damaged by hand
 * too (WRONGTYPE), the parking was refused, the claim failed after its pops, and the good entries
 * popped with the bad one were lost: never queued, never run. The entry that can be neither
 * routed nor parked must wait in the ingress, the others run, the idle worker must not spin on
 * it, and once the store is mended it is parked.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { partitionKeys, partitionOf } from '../src/partitions.js';
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

/** how many FCALLs Redis has run (every claim is one) */
async function fcalls(): Promise<number> {
  const m = /^cmdstat_fcall:calls=(\d+)/m.exec(await redis.info('commandstats'));
  return Number(m?.[1] ?? 0);
}

describe('an entry a claim can neither route nor park (the dead-letter store damaged)', () => {
  for (const [grouped, partitions] of [[false, 1], [true, 1], [false, 2]] as const) {
    it(`waits in the ingress while the good entries popped with it run, without a spin, and is parked once the store is mended (${grouped ? 'grouped' : 'plain'} entries, ${partitions} partition(s))`, async () => {
      const base = server.options();
      const o = { ...base, partitions, ...(partitions > 1 ? { keyPrefix: `{${base.keyPrefix}}` } : {}) };
      // (every entry pushed into the first partition's ingress: a claim there pops them together)
      const keys = partitionKeys(resolveRedisConfig(o))[0]!;
      const entry = (id: string) => JSON.stringify({ id, function: 'a', data: id, ...(grouped ? { group: 'g' } : {}) });
      // in the ingress's order: pushed on the left, popped from the right
      // (ids of that partition, where the Client looks for them)
      const [one, two] = Array.from({ length: 20 }, (_, i) => `a-${i}`).filter((id) => partitionOf(id, partitions) === 0);
      await redis.lpush(keys.newQueue, entry(one!), 'not json', entry(two!));
      await redis.set(keys.dead.stats, 'not a hash');

      const { lines, logger } = collectingLogger();
      const w = new Worker({ port: 0, redis: o, logger, fetchTaskInterval: 300 });
      w.addTaskFunction('a', async (t) => t.data);
      cleanup.push(() => w.stop());
      await w.start();
      const c = new Client({ redis: o });
      cleanup.push(() => c.close());

      for (const id of [one!, two!]) expect(await c.wait(id, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', result: id });
      expect(await redis.lrange(keys.newQueue, 0, -1)).toContain('not json');
      await until(() => lines.some((l) => /could not be routed nor parked/.test(l)), 'the refusal said');

      // an idle worker claims at its poll, not in a loop (about 5 polls in 1.5 s)
      const before = await fcalls();
      await sleep(1500);
      expect(await fcalls() - before).toBeLessThan(40);

      await redis.del(keys.dead.stats);
      await until(async () => !(await redis.lrange(keys.newQueue, 0, -1)).includes('not json'), 'the entry taken from the ingress once the store is mended', 5000);
      const letters = Object.values(await redis.hgetall(keys.dead.entries)).map((e) => JSON.parse(e) as { reason: string; message: string });
      expect(letters.map((l) => l.reason)).toEqual(['bad_json']);
      expect(lines.filter((l) => /heartbeat failed|crash/i.test(l))).toEqual([]);
    }, 30_000);
  }
});
