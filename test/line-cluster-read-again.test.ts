/**
 * A Cluster client whose node lost the function library: a get made right after a submit of its
 * task (same turn), which Redis ran before the submit was sent again, is made again among the
 * scripts sent again, after the submit: it reads the task.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { deployCluster, removeCluster, type ClusterDeployment } from './helpers/deployments.js';

let d: ClusterDeployment;
let dir: string;
beforeAll(async () => {
  ({ dep: d, dir } = await deployCluster('task-swarm-line-cluster-read', { replicas: 0 }));
}, 90_000);
afterAll(() => removeCluster(d, dir));

describe('a cluster that lost the library', () => {
  it('a get made after a submit in the same turn reads the task', async () => {
    const c = new Client({ redis: { cluster: d.seeds, keyPrefix: '{lcr}:' } });
    const admins = d.nodes.map((n) => new Redis({ port: n.port }));
    try {
      await c.submit('f', 0, { id: 'warm' });
      const got: unknown[] = [];
      for (let i = 0; i < 20; i++) {
        await Promise.all(admins.map((a) => a.function('FLUSH')));
        const [id, info] = await Promise.all([c.submit('f', i, { id: `t${i}` }), c.get(`t${i}`)]);
        expect(id).toBe(`t${i}`);
        got.push(info === null ? null : info.state);
      }
      expect(got.filter((g) => g === null)).toEqual([]);
    } finally {
      for (const a of admins) a.disconnect();
      await c.close();
    }
  }, 60_000);
});
