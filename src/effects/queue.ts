/**
 * Queue effects: claim (claim.lua), block until an entry arrives (BLMOVE rotation), submit
 * (submit.lua) and dead letters. Named for the machine effects that call them.
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../keys.js';
import { pipeScript, runScript, scriptPipeline } from '../scripts.js';
import { DEAD_LETTER_CODES, type DeadLetterReason } from '../errors.js';

export interface Claimed {
  id: string;
  raw: string;
  attempt: number;
  lease: string;
}

/** what a claim returns: the tasks claimed, and the entries it parked instead */
export interface ClaimResult {
  claimed: Claimed[];
  parked: Parked[];
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
): Promise<ClaimResult> {
  if (max <= 0 || functions.length === 0) return { claimed: [], parked: [] };
  return parseClaim(await runScript(redis, 'claim', claimKeys(keys), claimArgs(keys, worker, max, maxPayloadBytes, false, functions)));
}

export const claimKeys = (keys: Keys) => [keys.newQueue, keys.taskSet, keys.leases, keys.queued, keys.deadLetter];
export const claimArgs = (keys: Keys, worker: string, max: number, maxPayloadBytes: number, holdUnknown: boolean, functions: string[]) => [
  keys.taskKeyPrefix,
  worker,
  max,
  maxPayloadBytes,
  holdUnknown ? '1' : '0',
  ...functions,
];

/**
 * An idle worker's pickup in one round trip: block until the queue holds an entry (see
 * waitForEntry), and claim, pipelined behind the block on the same connection. Redis runs a
 * blocked client's next command as soon as the block returns, so the claim happens the moment
 * an entry arrives (or, after `timeoutMs` without one, claims whatever is there: the poll).
 * A worker that stops waiting (STOP, Redis lost) lets the wait end on its own rather than
 * dropping the connection: a claim Redis has already run must reach the worker, which hands
 * its tasks back (see Worker `waitForTask`).
 *
 * The claim carries the function list of when the wait began: an entry for a function added
 * since is left at the head of the queue (`held`), and `functions()` (the current list) claims
 * it at once with an ordinary claim.
 */
export async function waitAndClaim(
  blocking: Redis,
  keys: Keys,
  worker: string,
  timeoutMs: number,
  max: number,
  maxPayloadBytes: number,
  functions: () => string[],
  command: Redis,
): Promise<ClaimResult> {
  const names = functions();
  if (max <= 0 || names.length === 0) {
    await waitForEntry(blocking, keys, timeoutMs);
    return claim(command, keys, worker, max, maxPayloadBytes, functions());
  }
  const pipe = scriptPipeline(blocking);
  pipe.blmove(keys.newQueue, keys.newQueue, 'RIGHT', 'RIGHT', Math.max(0.01, timeoutMs / 1000));
  pipeScript(pipe, 'claim', claimKeys(keys), claimArgs(keys, worker, max, maxPayloadBytes, true, names));
  const replies = (await pipe.exec()) ?? [];
  for (const [err] of replies) if (err) throw err;
  const got = parseClaim(replies[1]![1]);
  if (!got.held) return got;
  let more: ClaimResult;
  try {
    more = await claim(command, keys, worker, max - got.claimed.length, maxPayloadBytes, functions());
  } catch {
    // The tasks already claimed must reach the worker; the held entry waits for the next claim.
    return got;
  }
  return { claimed: [...got.claimed, ...more.claimed], parked: [...got.parked, ...more.parked] };
}

export function parseClaim(reply: unknown): ClaimResult & { held: boolean } {
  const [flat, parkedFlat, held] = reply as [string[], string[], number];
  const claimed: Claimed[] = [];
  for (let i = 0; i < flat.length; i += 4) {
    claimed.push({ id: flat[i]!, raw: flat[i + 1]!, attempt: Number(flat[i + 2]), lease: flat[i + 3]! });
  }
  const parked: Parked[] = [];
  for (let i = 0; i < parkedFlat.length; i += 2) {
    parked.push({ reason: parkedFlat[i] as DeadLetterReason, message: parkedFlat[i + 1]! });
  }
  return { claimed, parked, held: held === 1 };
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
