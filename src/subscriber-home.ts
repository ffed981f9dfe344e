/**
 * Where a Cluster's subscriber connection goes. ioredis (its ClusterSubscriber, private) draws
 * one node at random among all the cluster's nodes, and draws again each time that connection
 * ends. With a node of another shard silent (frozen, or cut off with its socket open), one draw
 * in three went there: its handshake hung until src/redis.ts dropped it, the PSUBSCRIBE sent
 * meanwhile was sent again to the next draw, as likely the same node, and a worker's start
 * (which waits for its control subscription) took a few seconds per such draw, past any
 * deadline after a few in a row.
 *
 * Any node hears every PUBLISH, so the draw is made among the swarm's own: the primaries serving
 * its partitions' slots, as the Cluster knows them now (after a failover, the promoted replica).
 * Those must answer for the swarm to run at all; when the one drawn does not, src/redis.ts drops
 * it and the next draw is among the same few, so a swarm over several primaries still hears
 * its events through a live one while one of them is down (a client waiting on a task of
 * another partition). No slot known yet leaves ioredis's own draw.
 */
import type { Cluster, Redis } from 'ioredis';
import calculateSlot from 'cluster-key-slot';

/** what ClusterSubscriber uses of ioredis's ConnectionPool */
interface Pool {
  getNodes(role?: string): Redis[];
  getInstanceByKey(key: string): Redis | undefined;
}

interface Internals {
  slots?: string[][];
  subscriber?: { connectionPool?: Pool; getInstance?(): Redis | null; selectSubscriber?(): void };
}

/** Have `cluster`'s subscriber connection made to a primary serving one of `keys`' slots (the swarm's partitions). */
export function subscribeWhere(cluster: Cluster, keys: readonly string[]): void {
  const own = cluster as unknown as Internals;
  const sub = own.subscriber;
  const pool = sub?.connectionPool;
  // (another ioredis than the one this was written for: its own draw)
  if (!sub || !pool || typeof pool.getNodes !== 'function' || typeof pool.getInstanceByKey !== 'function') return;
  const slots = [...new Set(keys.map((k) => calculateSlot(k)))];
  const homes = (): Redis[] => {
    const found = new Set<Redis>();
    for (const slot of slots) {
      const at = own.slots?.[slot]?.[0];
      const node = at === undefined ? undefined : pool.getInstanceByKey(at);
      if (node) found.add(node);
    }
    return [...found];
  };
  const steered = Object.create(pool) as Pool;
  steered.getNodes = (role?: string) => {
    const found = homes();
    return found.length ? found : pool.getNodes(role);
  };
  sub.connectionPool = steered;
  // ioredis draws the first one as it connects, before it knows the slots (among the seeds):
  // once it does, a draw not connected yet (it connects at the first subscribe, sent only once
  // the Cluster is ready: nothing waits on it) is made again, among the swarm's nodes
  cluster.on('refresh', () => {
    const node = sub.getInstance?.();
    const found = homes();
    if (!node || found.length === 0 || node.status !== 'wait') return;
    if (found.some((h) => h.options.host === node.options.host && h.options.port === node.options.port)) return;
    sub.selectSubscriber?.();
  });
}
