/**
 * Queue effects: claim (claim.lua), block until an entry arrives (BLMOVE rotation), submit
 * (submit.lua) and dead letters. Named for the machine effects that call them.
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../keys.js';
import { runScript } from '../scripts.js';
import { DEAD_LETTER_CODES, type DeadLetterReason } from '../errors.js';

export interface Claimed {
  id: string;
  raw: string;
  attempt: number;
  lease: string;
}

export interface Parked {
  reason: DeadLetterReason;
  message: string;
}

export async function claim(
  redis: Redis,
  keys: Keys,
  worker: string,
  max: number,
  maxPayloadBytes: number,
  functions: string[],
): Promise<{ claimed: Claimed[]; parked: Parked[] }> {
  if (max <= 0 || functions.length === 0) return { claimed: [], parked: [] };
  const [flat, parkedFlat] = (await runScript(
    redis,
    'claim',
    [keys.newQueue, keys.taskSet, keys.leases, keys.queued, keys.deadLetter],
    [keys.taskKeyPrefix, worker, max, maxPayloadBytes, ...functions],
  )) as [string[], string[]];
  const claimed: Claimed[] = [];
  for (let i = 0; i < flat.length; i += 4) {
    claimed.push({ id: flat[i]!, raw: flat[i + 1]!, attempt: Number(flat[i + 2]), lease: flat[i + 3]! });
  }
  const parked: Parked[] = [];
  for (let i = 0; i < parkedFlat.length; i += 2) {
    parked.push({ reason: parkedFlat[i] as DeadLetterReason, message: parkedFlat[i + 1]! });
  }
  return { claimed, parked };
}

/**
 * Block until the queue holds an entry, without taking it: BLMOVE from the queue's right end to
 * its right end is a no-op rotation that returns as soon as something is pushed. Nothing leaves
 * the queue here, so a worker dying while blocked loses nothing; claim.lua then takes it.
 */
export async function waitForEntry(blocking: Redis, keys: Keys, timeoutMs: number): Promise<boolean> {
  const r = await blocking.blmove(keys.newQueue, keys.newQueue, 'RIGHT', 'RIGHT', Math.max(0.01, timeoutMs / 1000));
  return r !== null;
}

/** Returns false when the id is already queued, running or retained. */
export async function submit(redis: Redis, keys: Keys, id: string, raw: string): Promise<boolean> {
  return (await runScript(redis, 'submit', [keys.task(id), keys.queued, keys.newQueue], [id, raw])) === 1;
}

export interface DeadLetter {
  reason: DeadLetterReason;
  /** TaskSwarmError code for the reason */
  code: string;
  message: string;
  /** the entry exactly as it was on the queue */
  raw: string;
  id?: string;
  /** Redis time (ms) it was parked */
  at: number;
  /** worker (or monitor) that parked it */
  worker?: string;
  history?: unknown[];
  /** the dead-letter list element itself, to pass back to retryDead */
  entry: string;
}

export async function readDeadLetters(redis: Redis, keys: Keys, start: number, stop: number): Promise<DeadLetter[]> {
  const items = await redis.lrange(keys.deadLetter, start, stop);
  return items.map((entry) => {
    const o = JSON.parse(entry) as Omit<DeadLetter, 'entry' | 'code'>;
    return { ...o, code: DEAD_LETTER_CODES[o.reason] ?? 'ERR_INVALID_TASK', entry };
  });
}

export async function retryDead(redis: Redis, keys: Keys, d: Pick<DeadLetter, 'entry' | 'raw'>): Promise<boolean> {
  return (await runScript(redis, 'retry-dead', [keys.deadLetter, keys.newQueue], [d.entry, d.raw, keys.taskKeyPrefix])) === 1;
}
