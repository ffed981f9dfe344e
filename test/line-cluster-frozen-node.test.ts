/**
 * A Cluster client of several partitions whose primaries lost the function library, one primary
 * frozen (SIGSTOP: its calls wait for the client's patience) with a submit written to it:
 * - a submit to a live node that lost it has the library loaded there and is sent again, answered
 *   at once, not held until the frozen node's calls give up (the reload waits for them at most
 *   SILENT_NODE_GRACE_MS);
 * - a cancel of the frozen node's task, made after its submit, finds it once the node wakes, or
 *   the submit, passed by the calls made after it, is not sent again and its caller is told.
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
  ({ dep: d, dir } = await deployCluster('task-swarm-line-cluster-frozen', { replicas: 0, nodeTimeout: 60_000 }));
}, 90_000);
afterAll(() => removeCluster(d, dir));

type Node = ClusterDeployment['nodes'][number];

/**
 * A started client of 6 partitions; `body` gets an id in a partition of a live node (`idLive`)
 * and one of another node (`idFrozen`, that node `frozen`: `body` freezes it), and the nodes'
 * admin connections. The frozen node is woken and everything closed whatever `body` does.
 */
async function withSwarm(prefix: string, body: (s: { c: Client; conn: Connection; idLive: (tag: string) => string; idFrozen: (tag: string) => string; live: Node; frozen: Node; admins: Redis[] }) => Promise<void>): Promise<void> {
  const c = new Client({ redis: { cluster: d.seeds, keyPrefix: prefix, partitions: 6 } });
  const inner = c as unknown as { redis: Connection; parts: { newQueue: string }[]; partOf(id: string): number };
  const admins = d.nodes.map((n) => new Redis({ port: n.port }));
  let frozen: Node | undefined;
  try {
    await c.submit('f', 0, { id: 'warm' });
    const homes = await Promise.all(inner.parts.map((k) => keyHome(d.seeds[0]!.port, k.newQueue)));
    const pB = homes.findIndex((h) => h !== homes[0]);
    expect(pB).toBeGreaterThan(0);
    const idIn = (p: number) => (tag: string) => {
      for (let i = 0; ; i++) if (inner.partOf(`${tag}${i}`) === p) return `${tag}${i}`;
    };
    frozen = d.nodes.find((n) => n.port === homes[pB])!;
    const live = d.nodes.find((n) => n.port === homes[0])!;
    await body({ c, conn: inner.redis, idLive: idIn(0), idFrozen: idIn(pB), live, frozen, admins });
  } finally {
    if (frozen) frozen.proc.kill('SIGCONT');
    for (const a of admins) a.disconnect();
    await c.close();
  }
}

describe('a cluster that lost the library, one primary frozen', () => {
  it("a submit to the live node's partition is answered without waiting for the frozen one", () =>
    withSwarm('{lf}:', async ({ c, idLive, idFrozen, live, frozen, admins }) => {
      await admins[d.nodes.indexOf(live)]!.function('FLUSH');
      frozen.proc.kill('SIGSTOP');
      // a submit to the frozen node's partition: written, never answered
      const stuck = c.submit('f', 'b', { id: idFrozen('b') }).catch((e: unknown) => String(e));
      await new Promise((r) => setTimeout(r, 200));
      const t0 = Date.now();
      const id = await c.submit('f', 'a', { id: idLive('a') });
      const ms = Date.now() - t0;
      expect(id).toBe(idLive('a'));
      // (the reload waits SILENT_NODE_GRACE_MS for the frozen primary's script, the load as long
      // again for the primary itself: about 2 s; held until its calls gave up, it took 10.8 s)
      expect(ms).toBeLessThan(6000);
      frozen.proc.kill('SIGCONT');
      await stuck;
    }), 60_000);

  it('a cancel made after a submit to the frozen node finds the task, or the submit is refused', () =>
    withSwarm('{lo}:', async ({ c, conn, idLive, idFrozen, frozen, admins }) => {
      // every primary lost the library
      for (const a of admins) await a.function('FLUSH');
      frozen.proc.kill('SIGSTOP');
      const x = idFrozen('b');
      // a submit to the frozen node's partition: written, not answered while it sleeps
      const stuck = c.submit('f', 'b', { id: x }).catch((e: unknown) => String(e));
      await new Promise((r) => setTimeout(r, 200));
      // a submit to a live node finds the library missing: a reload begins
      const live = c.submit('f', 'a', { id: idLive('a') });
      for (let i = 0; i < 10_000 && !reloading(conn); i++) await new Promise((r) => setImmediate(r));
      expect(reloading(conn)).toBeDefined();
      await live;
      // the cancel of the frozen node's task, made after its submit
      const cancelled = c.cancel(x).catch((e: unknown) => String(e));
      await new Promise((r) => setTimeout(r, 300));
      frozen.proc.kill('SIGCONT');
      const submitted = await stuck;
      const cancel = await cancelled;
      const state = (await c.get(x))?.state;
      // the submit ran before the cancel made after it (cancelled), or, passed by it, was not
      // sent again and its caller told: never a task left queued that its cancel did not find
      expect(submitted === x ? [cancel, state] : [state]).toEqual(submitted === x ? ['cancelled', 'END'] : [undefined]);
    }), 60_000);
});
