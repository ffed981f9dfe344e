/**
 * Monitor effects: requeue stale tasks (requeue.lua, O(stale) through the lease index), clean
 * up ended ones (reap.lua) and keep the dead-letter list within its bound.
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

/**
 * Drop the oldest dead letters past `max` (new ones are pushed on the left, so the newest stay).
 * Returns how many were dropped; 0 when `max` is 0 (unbounded).
 */
export async function trimDeadLetters(redis: Redis, keys: Keys, max: number): Promise<number> {
  if (max <= 0) return 0;
  const replies = (await redis.multi().llen(keys.deadLetter).ltrim(keys.deadLetter, 0, max - 1).exec()) ?? [];
  for (const [err] of replies) if (err) throw err;
  return Math.max(0, Number(replies[0]?.[1] ?? 0) - max);
}
