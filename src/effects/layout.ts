/**
 * A swarm's partition count (`redis.partitions`), kept in Redis so that every component agrees
 * on it: the first to start writes it, every other checks it. Each count lays the swarm out under
 * other keys (src/partitions.ts), so a producer that counted 3 where the workers count 1 would
 * queue tasks no worker ever looks at; refused at start instead, naming both counts.
 */
import type { Connection } from '../redis.js';
import { ConfigError } from '../errors.js';

/**
 * `write`: record the count when none is (a worker, a monitor, a submit: they lay the swarm out);
 * otherwise only compare (a call that is refused for bad input must write nothing).
 */
export async function checkLayout(redis: Connection, key: string, partitions: number, write = true): Promise<void> {
  const was = (await (write ? redis.call('SET', key, String(partitions), 'NX', 'GET') : redis.get(key))) as string | null;
  if (was === null || was === String(partitions)) return;
  throw new ConfigError(
    `redis.partitions is ${partitions} here, but this swarm is laid out in ${was} partition(s) (${key}): every worker, monitor and client of a swarm must use the same number; to change it, drain the swarm, then delete that key`,
  );
}
