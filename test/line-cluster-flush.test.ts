/**
 * A client on a Redis Cluster (one connection object for every node) whose nodes lose the
 * function library mid-life: a cancel made a turn after a submit finds the task, a get made
 * after the cancel reads it cancelled, and none of its calls hangs.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { deployCluster, removeCluster, type ClusterDeployment } from './helpers/deployments.js';

let d: ClusterDeployment;
let dir: string;
beforeAll(async () => {
  ({ dep: d, dir } = await deployCluster('task-swarm-line-cluster', { replicas: 0 }));
}, 90_000);
afterAll(() => removeCluster(d, dir));

const turn = () => new Promise((r) => setImmediate(r));

describe('a cluster that lost the library', () => {
  for (const partitions of [1, 3]) {
    it(`keeps a client's calls in order (${partitions} partition${partitions > 1 ? 's' : ''})`, async () => {
      const c = new Client({ redis: { cluster: d.seeds, keyPrefix: `{lc${partitions}}:`, partitions } });
      const admins = d.nodes.map((n) => new Redis({ port: n.port }));
      try {
        await c.submit('f', 0, { id: 'warm' });
        await Promise.all(admins.map((a) => a.function('FLUSH')));
        const made: Promise<unknown>[] = [];
        for (let i = 0; i < 60; i++) {
          made.push(c.submit('f', i, { id: `t${i}` }));
          if (i > 0) made.push(c.cancel(`t${i - 1}`), c.get(`t${i - 1}`));
          await turn();
        }
        const settled = await Promise.race([Promise.allSettled(made), new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15_000))]);
        expect(settled).not.toBe('hung');
        const all = settled as PromiseSettledResult<unknown>[];
        expect(all.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason))).toEqual([]);
        const cancels = all.filter((_, j) => j > 0 && j % 3 === 2).map((s) => (s as PromiseFulfilledResult<unknown>).value);
        expect(new Set(cancels)).toEqual(new Set(['cancelled']));
        // each get, made after the cancel of its task, reads it cancelled
        const gets = all.filter((_, j) => j > 0 && j % 3 === 0).map((s) => (s as PromiseFulfilledResult<{ state: string } | null>).value?.state ?? 'null');
        expect(gets.filter((g) => g !== 'END')).toEqual([]);
      } finally {
        for (const a of admins) a.disconnect();
        await c.close();
      }
    }, 60_000);
  }
});
