/**
 * A call that writes several partitions at once (submitMany, pause), two of them served by one
 * node that a client still thinks serves both, after one was moved (moveSwarmSlot): its batch
 * to that node comes back partly run, partly MOVED, and ioredis follows neither. The call must
 * not say it did not run when part of it did: made again, a submitMany of generated ids queues
 * its tasks twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, moveSwarmSlot } from '../src/index.js';
import { deployCluster, keyHome, removeCluster, type ClusterDeployment } from './helpers/deployments.js';

let d: ClusterDeployment;
let dir: string;
beforeAll(async () => {
  ({ dep: d, dir } = await deployCluster('task-swarm-split-over-partitions', { replicas: 0, nodeTimeout: 60_000 }));
}, 90_000);
afterAll(() => removeCluster(d, dir));

const PARTS = 6;

/** a client whose partitions 0 and 1 are on one node, partition 1 then moved to another (the client not told) */
async function staleClient(prefix: string): Promise<{ c: Client; fresh: Client }> {
  const redis = { cluster: d.seeds, keyPrefix: prefix, partitions: PARTS };
  const c = new Client({ redis });
  const parts = (c as unknown as { parts: { newQueue: string }[] }).parts;
  const homes = await Promise.all(parts.map((k) => keyHome(d.seeds[0]!.port, k.newQueue)));
  expect(homes[1]).toBe(homes[0]);
  // (every partition's slot known to the client, and written: the move has keys to take)
  await c.submitMany(Array.from({ length: 60 }, (_, i) => ({ fn: 'f', data: i })));
  const to = d.nodes.find((n) => n.port !== homes[1])!;
  await moveSwarmSlot(redis, { host: '127.0.0.1', port: to.port }, { partition: 1 });
  return { c, fresh: new Client({ redis }) };
}

describe('a call over several partitions, one of them moved under it', () => {
  it('a submitMany that queued part of its tasks does not say it did not run', async () => {
    const { c, fresh } = await staleClient('{sop1}:');
    try {
      const before = (await fresh.stats()).queued;
      const outcome = await c.submitMany(Array.from({ length: 60 }, (_, i) => ({ fn: 'f', data: i }))).then(
        () => 'submitted',
        (e: Error) => e.message,
      );
      const added = (await fresh.stats()).queued - before;
      // (the batch to the node that lost partition 1 was split: the call fails, and part of it ran)
      expect(outcome).not.toBe('submitted');
      expect(added).toBeGreaterThan(0);
      expect(added).toBeLessThan(60);
      expect(outcome).not.toMatch(/\bit did not run\b/);
      expect(outcome).toMatch(/^submitMany: .*the rest did/);
    } finally {
      await c.close();
      await fresh.close();
    }
  }, 60_000);

  it('a pause that paused a partition does not say it did not run', async () => {
    const { c, fresh } = await staleClient('{sop2}:');
    try {
      const outcome = await c.pause('f').then(
        () => 'paused',
        (e: Error) => e.message,
      );
      const paused = (await fresh.stats()).functions['f']?.paused ?? false;
      expect(paused).toBe(true);
      expect(outcome).not.toMatch(/\bit did not run\b/);
      expect(outcome).toMatch(/^pause: .*the rest did/);
    } finally {
      await c.close();
      await fresh.close();
    }
  }, 60_000);
});
