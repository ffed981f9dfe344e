/**
 * A Cluster of several partitions that lost the function library on every primary, one primary
 * frozen (SIGSTOP) with a submit written to it. A submit to a live node finds the library
 * missing: the reload waits SILENT_NODE_GRACE_MS, then loads. A cancel of the frozen node's
 * task, made after its submit (during the reload, or after it), must find it once the node
 * wakes: the frozen node runs the submit, the load queued behind it, then the cancel.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import type { Connection } from '../src/redis.js';
import { reloading } from '../src/script-line.js';
import { deployCluster, keyHome, removeCluster, type ClusterDeployment } from './helpers/deployments.js';

let d: ClusterDeployment;
let dir: string;
beforeAll(async () => {
  ({ dep: d, dir } = await deployCluster('task-swarm-line-cluster-frozen-order', { replicas: 0, nodeTimeout: 60_000 }));
}, 90_000);
afterAll(() => removeCluster(d, dir));

describe('a cluster that lost the library, one primary frozen', () => {
  it('a cancel made after a submit to the frozen node finds the task', async () => {
    const c = new Client({ redis: { cluster: d.seeds, keyPrefix: '{lo}:', partitions: 6 } });
    const conn = (c as unknown as { redis: Connection }).redis;
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
      frozen = d.nodes.find((n) => n.port === homes[pB])!;
      // every primary lost the library (FUNCTION FLUSH on each)
      for (const a of admins) await a.function('FLUSH');
      frozen.proc.kill('SIGSTOP');
      const x = idIn(pB, 'b');
      // a submit to the frozen node's partition: written, not answered while it sleeps
      const stuck = c.submit('f', 'b', { id: x }).catch((e: unknown) => String(e));
      await new Promise((r) => setTimeout(r, 200));
      // a submit to a live node finds the library missing: a reload begins
      const live = c.submit('f', 'a', { id: idIn(pA, 'a') });
      for (let i = 0; i < 10_000 && !reloading(conn); i++) await new Promise((r) => setImmediate(r));
      expect(reloading(conn)).toBeDefined();
      await live;
      // the cancel of the frozen node's task, made after its submit
      const cancelled = c.cancel(x).catch((e: unknown) => String(e));
      await new Promise((r) => setTimeout(r, 300));
      frozen.proc.kill('SIGCONT');
      frozen = undefined;
      const submitted = await stuck;
      const cancel = await cancelled;
      const state = (await c.get(x))?.state;
      // the submit ran before the cancel made after it (cancelled), or, passed by it, was not
      // sent again and its caller told: never a task left queued that its cancel did not find
      expect(submitted === x ? [cancel, state] : [state]).toEqual(submitted === x ? ['cancelled', 'END'] : [undefined]);
    } finally {
      if (frozen) frozen.proc.kill('SIGCONT');
      for (const a of admins) a.disconnect();
      await c.close();
    }
  }, 60_000);
});
