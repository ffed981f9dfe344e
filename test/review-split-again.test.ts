/**
 * A client whose slot table still has a moved partition's slot on its old node, that node
 * serving another partition: a call over every partition, made again after it ran in part,
 * runs whole (the client learns where the slot went), rather than failing again and again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, moveSwarmSlot } from '../src/index.js';
import { deployCluster, keyHome, removeCluster, type ClusterDeployment } from './helpers/deployments.js';

let d: ClusterDeployment;
let dir: string;
beforeAll(async () => {
  ({ dep: d, dir } = await deployCluster('task-swarm-split-again', { replicas: 0, nodeTimeout: 60_000 }));
}, 90_000);
afterAll(() => removeCluster(d, dir));

describe('a call over several partitions made again after one of them moved', () => {
  it('runs whole the second time', async () => {
    const redis = { cluster: d.seeds, keyPrefix: '{sa}:', partitions: 6 };
    const c = new Client({ redis });
    try {
      const parts = (c as unknown as { parts: { newQueue: string }[] }).parts;
      const homes = await Promise.all(parts.map((k) => keyHome(d.seeds[0]!.port, k.newQueue)));
      expect(homes[1]).toBe(homes[0]);
      await c.pause('g');
      await c.resume('g');
      await moveSwarmSlot(redis, { host: '127.0.0.1', port: d.nodes.find((n) => n.port !== homes[1])!.port }, { partition: 1 });
      const outcomes: string[] = [];
      for (let i = 0; i < 4; i++) outcomes.push(await c.pause('f').then(() => 'paused', (e: Error) => e.message));
      // (the first, split: partition 0 paused, partition 1 refused)
      expect(outcomes[0]).toMatch(/^pause: .*MOVED/);
      expect(outcomes.slice(1)).toEqual(['paused', 'paused', 'paused']);
    } finally {
      await c.close();
    }
  }, 60_000);
});
