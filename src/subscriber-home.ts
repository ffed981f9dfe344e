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
 *
 * The subscriber's Cluster sends no keyed command, so no MOVED ever tells it that a slot moved:
 * after its home primary froze and a replica took its slots, each draw was that frozen node
 * again, for good, and no event or control reached the component. So each redraw (the last
 * connection ended, or was dropped for its silence) asks the Cluster to read the slots again,
 * and is made among the others than the node just left: the swarm's other homes, else every
 * node (ioredis's draw); once the slots are read, a draw not ready yet and not at a home is
 * made again among the homes.
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
  const same = (a: Redis, b: Redis) => a.options.host === b.options.host && a.options.port === b.options.port;
  const steered = Object.create(pool) as Pool;
  steered.getNodes = (role?: string) => {
    // (called at each draw, the connection drawn before, if any, still named by getInstance)
    const left = sub.getInstance?.();
    if (left) cluster.refreshSlotsCache(() => {});
    const others = (nodes: Redis[]) => (left ? nodes.filter((n) => !same(n, left)) : nodes);
    const found = others(homes());
    if (found.length) return found;
    const any = others(pool.getNodes(role));
    return any.length ? any : pool.getNodes(role);
  };
  sub.connectionPool = steered;
  // ioredis draws the first one as it connects, before it knows the slots (among the seeds):
  // once it does, a draw not connected yet (it connects at the first subscribe, sent only once
  // the Cluster is ready: nothing waits on it), or not ready yet (a frozen node's handshake),
  // is made again, among the swarm's nodes
  cluster.on('refresh', () => {
    const node = sub.getInstance?.();
    const found = homes();
    if (!node || found.length === 0 || node.status === 'ready') return;
    if (found.some((h) => same(h, node))) return;
    sub.selectSubscriber?.();
  });
}
