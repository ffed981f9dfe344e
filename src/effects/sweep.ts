/**
 * Monitor effects: requeue stale tasks (requeue.lua, O(stale) through the lease index) and clean
 * up ended ones (reap.lua). Each call is bounded; each says whether more is waiting, so the
 * monitor can call again at once and keep up with any rate the workers produce.
 */
import type { Connection } from '../redis.js';
import type { Keys } from '../keys.js';
import { runScript } from '../scripts.js';

export async function requeueStale(
  redis: Connection,
  keys: Keys,
  taskTimeout: number,
  limit: number,
  maxAttempts: number,
  monitor: string,
  /** Redis ms the monitor lost Redis at, within one taskTimeout of its return: only what was stale then is taken (requeue.lua) */
  heldFrom?: number,
): Promise<{ requeued: string[]; parked: string[]; cancelled: string[]; refused: string[]; nextDeadline: number; now: number; graceLeft: number; pruned: string[]; more: boolean }> {
  const [requeued, parked, nextDeadline, now, graceLeft, pruned, more, cancelled, refused] = (await runScript(
    redis,
    'requeue',
    [keys.leases, keys.taskSet, keys.newQueue, keys.queued, ...keys.deadStore, keys.workerSeen, keys.grace, keys.outage, keys.workerSet, keys.workerFunctions, keys.workerStates, keys.monitorsSeen, keys.ended, keys.workerOwners, keys.workerMaxPayload],
    // ('' holds nothing: requeue.lua reads ARGV[6] as a number or none)
    [keys.taskKeyPrefix, taskTimeout, limit, maxAttempts, monitor, heldFrom ?? ''],
  )) as [string[], string[], number, number, number, string[], number, string[] | undefined, string[] | undefined];
  return { requeued, parked, cancelled: cancelled ?? [], refused: refused ?? [], nextDeadline: Number(nextDeadline), now: Number(now), graceLeft: Number(graceLeft), pruned, more: more === 1 };
}

/** Returns how many ended tasks were cleaned up, and how many still wait. */
/** how many of the latest ended ids, their hashes kept, stay listed for a look (the dashboard's ended tasks): a few dozen KB */
export const RECENT_ENDED = 1000;

export async function reapEnded(redis: Connection, keys: Keys, retention: number, limit: number): Promise<{ reaped: number; left: number }> {
  const [reaped, left] = (await runScript(redis, 'reap', [keys.ended, keys.taskSet, keys.endQueue, keys.recentEnded], [keys.taskKeyPrefix, retention, limit, RECENT_ENDED])) as [number, number];
  return { reaped: Number(reaped), left: Number(left) };
}
