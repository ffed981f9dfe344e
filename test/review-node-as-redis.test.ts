/**
 * A client given one node of a Redis Cluster as its Redis (redis.port, not redis.cluster): once
 * the swarm's slot has moved off that node, each script call is refused with a MOVED, for good.
 * Its error must not say that the slot moved while the call was on its way and to make it again
 * (made again, it is refused again), but name the mistake.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, moveSwarmSlot } from '../src/index.js';
import { deployCluster, removeCluster, swarmHome, type ClusterDeployment } from './helpers/deployments.js';

let d: ClusterDeployment;
let dir: string;
beforeAll(async () => {
  ({ dep: d, dir } = await deployCluster('task-swarm-node-as-redis', { replicas: 0, nodeTimeout: 60_000 }));
}, 90_000);
afterAll(() => removeCluster(d, dir));

describe('a cluster node given as one Redis', () => {
  it('a script refused with MOVED names the mistake, not a move to wait out', async () => {
    const keyPrefix = '{nar}:';
    const home = await swarmHome(d.seeds, keyPrefix);
    const c = new Client({ redis: { host: '127.0.0.1', port: home, keyPrefix } });
    try {
      await c.submit('f', 0, { id: 'a' });
      await moveSwarmSlot({ cluster: d.seeds, keyPrefix }, { host: '127.0.0.1', port: d.nodes.find((n) => n.port !== home)!.port });
      const errors: string[] = [];
      for (let i = 0; i < 2; i++) errors.push(await c.submit('f', i, { id: `b${i}` }).then(() => 'submitted', (e: Error) => e.message));
      for (const e of errors) {
        expect(e).toMatch(/MOVED/);
        expect(e).not.toMatch(/make it again/);
        expect(e).toMatch(/redis\.cluster/);
      }
    } finally {
      await c.close();
    }
  }, 60_000);
});
