/**
 * `redis.durable`: a write counts once that many replicas acknowledged it (WAIT), so that a
 * failover (a replica promoted while the primary's latest writes had not reached it) cannot
 * lose it. Sent after the write's reply, on the connection that wrote: WAIT covers every write
 * that connection made before it.
 *
 * One WAIT at a time per connection. While the replicas do not answer, a WAIT holds its
 * connection for durableTimeout, and everything sent behind it waits: one WAIT per write, each
 * behind the last, held a worker's heartbeat for several durableTimeouts (past its command
 * timeout, and past the monitors' taskTimeout). A WAIT whose reply has not come yet when a
 * write's reply comes was sent after that write (a connection's replies come in order), so it
 * covers that write too: the write joins it instead of sending its own.
 *
 * After a reconnect ioredis sends a pending WAIT again on the new connection, after its CLIENT
 * SETNAME; Redis (7.0) sets a connection's write offset at every command it runs, so that WAIT
 * waits for the primary's offset at that moment, past the write: it still covers it
 * (test/review-durable-submit.test.ts).
 */
import { atKey, type Connection } from '../redis.js';
import type { RedisConfig } from '../config.js';
import { NotDurableError } from '../errors.js';

/**
 * per connection and route key, the WAIT sent and not answered yet: acknowledged replicas. (By
 * key too: on a Cluster, partitions of a swarm may be on several primaries, each its own WAIT.)
 */
const pending = new WeakMap<Connection, Map<string, Promise<number>>>();

/**
 * Resolves once `c.durable` replicas hold what `redis` wrote so far; rejects with a
 * NotDurableError after `c.durableTimeout` ms with fewer (`what` names the writes, `ids` their
 * tasks). Nothing to wait for when `c.durable` is 0. `key` is any key of the swarm: on a
 * Cluster the WAIT goes to the node that holds it (the one the writes went to).
 */
export async function replicated(
  redis: Connection,
  key: string,
  c: Pick<RedisConfig, 'durable' | 'durableTimeout'>,
  what: string,
  ids: readonly string[],
): Promise<void> {
  if (!c.durable) return;
  let waits = pending.get(redis);
  if (!waits) pending.set(redis, (waits = new Map()));
  let acked = waits.get(key);
  if (!acked) {
    const reply = atKey(redis, key, 'WAIT', c.durable, c.durableTimeout);
    const mine = reply.then(Number);
    // attached first, so it runs before any reaction to a reply that came after the WAIT's
    const done = () => {
      if (waits.get(key) === mine) waits.delete(key);
    };
    reply.then(done, done);
    waits.set(key, (acked = mine));
  }
  let n: number;
  try {
    n = await acked;
  } catch (e) {
    // The write's own reply came (this runs after it): whatever ended the WAIT (the connection
    // lost, the client closed under it), the writes are on the primary and their replication is
    // unknown. Said as such, not as a failure that may or may not have written them.
    throw new NotDurableError(`${what}: written on the primary, but the replicas' acknowledgement could not be read (${(e as Error).message}); a failover now could lose it`, ids, 0);
  }
  if (n >= c.durable) return;
  throw new NotDurableError(
    `${what}: written on the primary, but ${n} of the ${c.durable} replica(s) redis.durable asks for acknowledged it within ${c.durableTimeout} ms; a failover now could lose it`,
    ids,
    n,
  );
}

/**
 * Said once at start when the primary has fewer replicas connected than `c.durable` asks for:
 * then every WAIT runs its whole durableTimeout and fails (replicas come and go, so it is not
 * refused), which a worker would otherwise show only as one warning per END.
 */
export async function replicaShortfall(redis: Connection, key: string, c: Pick<RedisConfig, 'durable' | 'durableTimeout'>): Promise<string | undefined> {
  if (!c.durable) return undefined;
  const info = (await atKey(redis, key, 'INFO', 'replication')) as string;
  const connected = Number(/^connected_slaves:(\d+)/m.exec(info)?.[1] ?? 0);
  if (connected >= c.durable) return undefined;
  return `redis.durable asks ${c.durable} replica(s) to acknowledge each write, and the primary has ${connected} connected: until more connect, every END waits redis.durableTimeout (${c.durableTimeout} ms) and is not confirmed`;
}
