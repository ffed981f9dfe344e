/**
 * A Cluster client of several partitions: one primary frozen (SIGSTOP: its calls wait for the
 * client's patience), another that lost the function library. A submit to a partition of the
 * live node that lost it has the library loaded there and is sent again: answered at once, as
 * before the line, not held until the frozen node's calls give up.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { deployCluster, keyHome, removeCluster, type ClusterDeployment } from './helpers/deployments.js';

let d: ClusterDeployment;
let dir: string;
beforeAll(async () => {
  ({ dep: d, dir } = await deployCluster('task-swarm-line-cluster-frozen', { replicas: 0, nodeTimeout: 60_000 }));
}, 90_000);
afterAll(() => removeCluster(d, dir));

describe('a cluster with a frozen primary and one that lost the library', () => {
  it("a submit to the live node's partition is answered without waiting for the frozen one", async () => {
    const c = new Client({ redis: { cluster: d.seeds, keyPrefix: '{lf}:', partitions: 6 } });
    const inner = c as unknown as { parts: { newQueue: string }[]; partOf(id: string): number };
    const admins = d.nodes.map((n) => new Redis({ port: n.port }));
    let frozen: (typeof d.nodes)[number] | undefined;
    try {
      await c.submit('f', 0, { id: 'warm' });
      const homes = await Promise.all(inner.parts.map((k) => keyHome(d.seeds[0]!.port, k.newQueue)));
      const pA = 0;
      const pB = homes.findIndex((h) => h !== homes[pA]);
      expect(pB).toBeGreaterThan(0);
      const idIn = (p: number, tag: string) => {
        for (let i = 0; ; i++) if (inner.partOf(`${tag}${i}`) === p) return `${tag}${i}`;
      };
      const nodeA = d.nodes.find((n) => n.port === homes[pA])!;
      frozen = d.nodes.find((n) => n.port === homes[pB])!;
      await admins[d.nodes.indexOf(nodeA)]!.function('FLUSH');
      frozen.proc.kill('SIGSTOP');
      // a submit to the frozen node's partition: written, never answered
      const stuck = c.submit('f', 'b', { id: idIn(pB, 'b') }).catch((e: unknown) => String(e));
      await new Promise((r) => setTimeout(r, 200));
      const t0 = Date.now();
      const id = await c.submit('f', 'a', { id: idIn(pA, 'a') });
      const ms = Date.now() - t0;
      expect(id).toBe(idIn(pA, 'a'));
      // (the reload waits SILENT_NODE_GRACE_MS for the frozen primary's script, the load as long
      // again for the primary itself: about 2 s; held until its calls gave up, it took 10.8 s)
      expect(ms).toBeLessThan(6000);
      frozen.proc.kill('SIGCONT');
      frozen = undefined;
      await stuck;
    } finally {
      if (frozen) frozen.proc.kill('SIGCONT');
      for (const a of admins) a.disconnect();
      await c.close();
    }
  }, 60_000);
});
