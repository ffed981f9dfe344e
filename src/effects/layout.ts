/**
 * A swarm's partition count (`redis.partitions`), kept in Redis so that every component agrees
 * on it: the first to start writes it, every other checks it. Each count lays the swarm out under
 * other keys (src/partitions.ts), so a producer that counted 3 where the workers count 1 would
 * queue tasks no worker ever looks at; refused at start instead, naming both counts.
 */
import type { Connection } from '../redis.js';
import { ConfigError } from '../errors.js';

function mismatch(key: string, partitions: number, was: string): ConfigError {
  return new ConfigError(
    `redis.partitions is ${partitions} here, but this swarm is laid out in ${was} partition(s) (${key}): every worker, monitor and client of a swarm must use the same number; to change it, drain the swarm, then delete that key`,
  );
}

export async function checkLayout(redis: Connection, key: string, partitions: number): Promise<void> {
  const was = (await redis.call('SET', key, String(partitions), 'NX', 'GET')) as string | null;
  if (was === null || was === String(partitions)) return;
  throw mismatch(key, partitions, was);
}

/**
 * The check of a call that only reads (stats, get, dead letters...): it must not lay out a swarm
 * that has no count yet (an operator's status before the workers start would fix it at its own
 * count), so it writes nothing. Resolves true when the count is there and the same, false when
 * there is none yet.
 */
export async function readLayout(redis: Connection, key: string, partitions: number): Promise<boolean> {
  const was = (await redis.call('GET', key)) as string | null;
  if (was === null) return false;
  if (was === String(partitions)) return true;
  throw mismatch(key, partitions, was);
}
