/**
 * Found in the review of Client.submit's coalescing, on a Redis Cluster: the submits of one tick
 * over several partitions (`redis.partitions`, each its own slot) are one script per partition,
 * on as many primaries. A primary that refuses the write (here: full, maxmemory with
 * noeviction) made every submit of the tick reject, those another primary had queued included;
 * a caller told "failed" retries, and the task runs twice. Failed before the fix.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { buildKeys } from '../src/keys.js';
import { resolveRedisConfig } from '../src/config.js';
import { partitionOf, partitionPrefix } from '../src/partitions.js';
import { deployCluster, removeCluster, swarmHome, type ClusterDeployment } from './helpers/deployments.js';

let d: ClusterDeployment;
let dir: string;
beforeAll(async () => {
  ({ dep: d, dir } = await deployCluster('task-swarm-review-coalesce'));
}, 60_000);
afterAll(async () => {
  await removeCluster(d, dir);
});

describe('coalesced submits on a Cluster', () => {
  it('a primary refusing its partition’s share rejects only the submits of that partition', async () => {
    const n = 4;
    const keyPrefix = '{rc}:';
    const homes = await Promise.all(Array.from({ length: n }, (_, p) => swarmHome(d.seeds, partitionPrefix(keyPrefix, p, n))));
    const a = 0;
    const b = homes.findIndex((port) => port !== homes[a]);
    expect(b).toBeGreaterThan(0); // (the four partitions' slots are not all on one primary)
    const idIn = (stem: string, p: number) => {
      for (let i = 0; ; i++) if (partitionOf(`${stem}-${i}`, n) === p) return `${stem}-${i}`;
    };
    const client = new Client({ redis: { cluster: d.seeds, keyPrefix, partitions: n } });
    const full = new Redis({ port: homes[b]! });
    try {
      await client.submit('f', 'warm-up');
      await full.config('SET', 'maxmemory', '1');
      const good = idIn('good', a);
      const [g, bad] = await Promise.allSettled([client.submit('f', 1, { id: good }), client.submit('f', 2, { id: idIn('bad', b) })]);
      expect(bad.status).toBe('rejected');
      const k = buildKeys(resolveRedisConfig({ cluster: d.seeds, keyPrefix: partitionPrefix(keyPrefix, a, n) }));
      const home = new Redis({ port: homes[a]! });
      expect(await home.sismember(k.queued, good).finally(() => home.disconnect())).toBe(1);
      // what the review saw: rejected with the other primary's OOM, though queued
      expect(g).toEqual({ status: 'fulfilled', value: good });
    } finally {
      await full.config('SET', 'maxmemory', '0');
      full.disconnect();
      await client.close();
    }
  }, 60_000);
});
