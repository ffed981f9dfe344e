/**
 * A worker of concurrency 10 counts the swarm's workers with every claim (claim.lua's optional
 * KEYS[11]) on a Redis Cluster, its swarm in three partitions over three primaries: the count of
 * each partition is its own `workers` set's, in the partition's slot (a key of another slot
 * would be refused, CROSSSLOT, and every claim with it). Alone, it claims in lanes; another
 * worker joins and it claims one claim at a time; every task ends, none twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { Client, Worker } from '../src/index.js';
import { resolveRedisConfig } from '../src/config.js';
import { partitionKeys } from '../src/partitions.js';
import { deployCluster, removeCluster, type ClusterDeployment } from './helpers/deployments.js';
import { until } from './helpers/redis-server.js';

let d: ClusterDeployment;
let dir: string;
beforeAll(async () => {
  ({ dep: d, dir } = await deployCluster('task-swarm-lone-lanes', { replicas: 0 }));
}, 60_000);
afterAll(async () => {
  await removeCluster(d, dir);
});

function keeping(lines: string[]) {
  const keep = (...a: unknown[]) => void lines.push(a.map(String).join(' '));
  return { debug: () => {}, info: () => {}, warn: keep, error: keep };
}
type Machine = { actor: { getSnapshot(): { context: { alone: boolean } } } };

describe('lanes while alone, on a Cluster in partitions', () => {
  it('alone it claims in lanes; with another worker one claim at a time; every task ends once', async () => {
    const redis = { cluster: d.seeds, keyPrefix: '{lone}:', partitions: 3 };
    const logs: string[] = [];
    const runs = new Map<string, number>();
    const run = async (task: { id: string }) => {
      runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 2));
    };
    const a = new Worker({ port: 0, redis, concurrency: 10, logger: keeping(logs) });
    a.addTaskFunction('quick', run);
    const c = new Client({ redis });
    const admin = new Cluster(d.seeds);
    let b: Worker | undefined;
    try {
      const first = await c.submitMany(Array.from({ length: 600 }, (_, i) => ({ fn: 'quick', data: { i } })));
      await a.start();
      await until(() => (a as unknown as Machine).actor.getSnapshot().context.alone, 'the worker counted itself alone', 10_000);
      await until(() => first.every((id) => runs.has(id)), 'the first tasks ran', 30_000);
      b = new Worker({ port: 0, redis, concurrency: 10, logger: keeping(logs) });
      b.addTaskFunction('quick', run);
      await b.start();
      const second = await c.submitMany(Array.from({ length: 600 }, (_, i) => ({ fn: 'quick', data: { i } })));
      await until(() => !(a as unknown as Machine).actor.getSnapshot().context.alone, 'the worker counted the other', 10_000);
      await until(() => second.every((id) => runs.has(id)), 'the second tasks ran', 30_000);
      for (const id of [...first, ...second]) expect((await c.get(id))?.state, id).toBe('END');
      expect([...runs.values()].filter((n) => n > 1)).toEqual([]);
      // nothing left leased in any partition
      for (const k of partitionKeys(resolveRedisConfig(redis))) expect(await admin.zcard(k.leases)).toBe(0);
      expect(logs.filter((l) => /CROSSSLOT|CLAIM_FAILED|claim/i.test(l))).toEqual([]);
    } finally {
      await b?.stop();
      await a.stop();
      await c.close();
      admin.disconnect();
    }
  }, 90_000);
});
