/**
 * `redis.durable`: a write counts once that many replicas acknowledged it (WAIT), so that a
 * failover (a replica promoted while the primary's latest writes had not reached it) cannot
 * lose it. Sent after the write's reply, on the connection that wrote: WAIT covers every write
 * that connection made before it (one sent earlier, a script sent again after the library was
 * loaded, a resend after a reconnect).
 */
import type { Redis } from 'ioredis';
import type { RedisConfig } from '../config.js';
import { NotDurableError } from '../errors.js';

/**
 * Resolves once `c.durable` replicas hold what `redis` wrote so far; rejects with a
 * NotDurableError after `c.durableTimeout` ms with fewer (`what` names the writes, `ids` their
 * tasks). Nothing to wait for when `c.durable` is 0.
 */
export async function replicated(redis: Redis, c: Pick<RedisConfig, 'durable' | 'durableTimeout'>, what: string, ids: readonly string[]): Promise<void> {
  if (!c.durable) return;
  const acked = Number(await redis.wait(c.durable, c.durableTimeout));
  if (acked >= c.durable) return;
  throw new NotDurableError(
    `${what}: written on the primary, but ${acked} of the ${c.durable} replica(s) redis.durable asks for acknowledged it within ${c.durableTimeout} ms; a failover now could lose it`,
    ids,
    acked,
  );
}
