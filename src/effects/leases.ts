/**
 * Lease effects of a worker: the batched heartbeat (renew.lua), the fenced end (finish.lua),
 * the hand-back on stop (hand-back.lua) and the re-assertion of tasks whose hash Redis lost
 * (reassert.lua).
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../keys.js';
import { runScript } from '../scripts.js';

export interface HeldLease {
  id: string;
  lease: string;
}

export async function renewLeases(redis: Redis, keys: Keys, worker: string, held: HeldLease[]): Promise<{ lost: string[]; missing: string[]; now: number }> {
  const args: string[] = [keys.taskKeyPrefix, worker];
  for (const h of held) args.push(h.id, h.lease);
  const [lost, missing, now] = (await runScript(redis, 'renew', [keys.leases, keys.workerSeen, keys.workerSet, keys.grace, keys.outage], args)) as [string[], string[], number];
  return { lost, missing, now };
}

export type Outcome = 'succeeded' | 'failed' | 'stopped';

/** Returns false when fenced: the lease was not ours any more, nothing was written. */
export async function finishTask(redis: Redis, keys: Keys, id: string, lease: string, outcome: Outcome, payloadJson: string): Promise<boolean> {
  const r = await runScript(redis, 'finish', [keys.leases, keys.ended], [keys.task(id), id, lease, outcome, payloadJson, keys.events(id)]);
  return r === 1;
}

export async function handBack(redis: Redis, keys: Keys, held: HeldLease[]): Promise<string[]> {
  if (held.length === 0) return [];
  const args: string[] = [keys.taskKeyPrefix];
  for (const h of held) args.push(h.id, h.lease);
  return (await runScript(redis, 'hand-back', [keys.leases, keys.taskSet, keys.newQueue], args)) as string[];
}

export interface ReassertTask extends HeldLease {
  raw: string;
  attempt: number;
  start: number;
  manualEnd: boolean;
}

export async function reassert(redis: Redis, keys: Keys, worker: string, t: ReassertTask): Promise<boolean> {
  const r = await runScript(
    redis,
    'reassert',
    [keys.task(t.id), keys.taskSet, keys.leases],
    [t.id, t.raw, t.attempt, t.lease, worker, t.start, t.manualEnd ? '1' : ''],
  );
  return r === 1;
}
