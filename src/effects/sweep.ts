/**
 * Monitor effects: requeue stale tasks (requeue.lua, O(stale) through the lease index) and
 * clean up ended ones (reap.lua).
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../keys.js';
import { runScript } from '../scripts.js';

export async function requeueStale(
  redis: Redis,
  keys: Keys,
  taskTimeout: number,
  limit: number,
  maxAttempts: number,
  monitor: string,
): Promise<{ requeued: string[]; parked: string[]; nextDeadline: number; now: number; graceLeft: number; pruned: string[] }> {
  const [requeued, parked, nextDeadline, now, graceLeft, pruned] = (await runScript(
    redis,
    'requeue',
    [keys.leases, keys.taskSet, keys.newQueue, keys.deadLetter, keys.ended, keys.workerSeen, keys.grace, keys.outage, keys.workerSet],
    [keys.taskKeyPrefix, taskTimeout, limit, maxAttempts, monitor],
  )) as [string[], string[], number, number, number, string[]];
  return { requeued, parked, nextDeadline: Number(nextDeadline), now: Number(now), graceLeft: Number(graceLeft), pruned };
}

export async function reapEnded(redis: Redis, keys: Keys, retention: number, limit: number): Promise<number> {
  return Number(await runScript(redis, 'reap', [keys.ended, keys.taskSet, keys.endQueue], [keys.taskKeyPrefix, retention, limit]));
}
