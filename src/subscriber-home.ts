/**
 * Where a Cluster's subscriber connection goes. ioredis (its ClusterSubscriber, private) draws
 * one node at random among all the cluster's nodes, and draws again each time that connection
 * ends. With a node of another shard silent (frozen, or cut off with its socket open), one draw
 * in three went there: its handshake hung until src/redis.ts dropped it, the PSUBSCRIBE sent
 * meanwhile was sent again to the next draw, as likely the same node, and a worker's start
 * (which waits for its control subscription) took a few seconds per such draw, past any
 * deadline after a few in a row.
 *
 * Any node hears every PUBLISH, so the draw is made among one: the primary serving the swarm's
 * slot, as the Cluster knows it now (after a failover, the promoted replica). That node must
 * answer for the swarm to run at all; when it does not, its calls fail as before, the
 * subscriber with them. A slot not known yet leaves ioredis's own draw.
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

/** Have `cluster`'s subscriber connection made to the primary serving `key`'s slot. */
export function subscribeWhere(cluster: Cluster, key: string): void {
  const own = cluster as unknown as Internals;
  const sub = own.subscriber;
  const pool = sub?.connectionPool;
  // (another ioredis than the one this was written for: its own draw)
  if (!sub || !pool || typeof pool.getNodes !== 'function' || typeof pool.getInstanceByKey !== 'function') return;
  const slot = calculateSlot(key);
  const homeNode = () => {
    const at = own.slots?.[slot]?.[0];
    return at === undefined ? undefined : pool.getInstanceByKey(at);
  };
  const steered = Object.create(pool) as Pool;
  steered.getNodes = (role?: string) => {
    const home = homeNode();
    return home ? [home] : pool.getNodes(role);
  };
  sub.connectionPool = steered;
  // ioredis draws the first one as it connects, before it knows the slots (among the seeds):
  // once it does, a draw not connected yet (it connects at the first subscribe, sent only once
  // the Cluster is ready: nothing waits on it) is made again, at the swarm's node
  cluster.on('refresh', () => {
    const node = sub.getInstance?.();
    const home = homeNode();
    if (!node || !home || node.status !== 'wait' || (node.options.host === home.options.host && node.options.port === home.options.port)) return;
    sub.selectSubscriber?.();
  });
}
