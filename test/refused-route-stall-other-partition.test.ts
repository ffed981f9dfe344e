/**
 * An entry a claim can neither route nor park (its dead-letter store damaged by hand) waits in
 * its partition's ingress, where a block returns at once: the idle worker does not block there,
 * lest it spin. The other partitions are whole: a task submitted to one of them is claimed as it
 * arrives, not after a poll the worker sleeps because of the damaged partition.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { partitionKeys, partitionOf } from '../src/partitions.js';
import { resolveRedisConfig } from '../src/config.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { collectingLogger } from './helpers/collecting-logger.js';
import { monitorRedis } from './helpers/monitor.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a partition whose ingress holds an entry that can be neither routed nor parked', () => {
  it('does not hold up the tasks of the other partitions: each is claimed as it arrives', async () => {
    const base = server.options();
    const o = { ...base, partitions: 2, keyPrefix: `{${base.keyPrefix}}` };
    const keys = partitionKeys(resolveRedisConfig(o))[0]!;
    await redis.lpush(keys.newQueue, 'not json');
    await redis.set(keys.dead.stats, 'not a hash');

    const { lines, logger } = collectingLogger();
    const w = new Worker({ port: 0, redis: o, logger, fetchTaskInterval: 4000 });
    w.addTaskFunction('a', async (t) => t.data);
    cleanup.push(() => w.stop());
    await w.start();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    await until(() => lines.some((l) => /could not be routed nor parked/.test(l)), 'the refusal said');

    let claims = 0;
    const watch = await monitorRedis(server.options(), (args) => {
      if (String(args[0]).toLowerCase() === 'fcall' && /_claim$/.test(String(args[1]))) claims++;
    });
    cleanup.push(async () => watch.stop());
    const ids = Array.from({ length: 40 }, (_, i) => `b-${i}`).filter((id) => partitionOf(id, 2) === 1).slice(0, 2);
    for (const id of ids) {
      // just after a claim: the worker's next wait is under way
      const seen = claims;
      await until(() => claims > seen, 'a claim', 10_000, 1);
      await sleep(100);
      const started = performance.now();
      await c.submit('a', id, { id });
      expect(await c.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', result: id });
      expect(performance.now() - started).toBeLessThan(1500);
    }
    expect(await redis.lrange(keys.newQueue, 0, -1)).toContain('not json');
  }, 40_000);
});
