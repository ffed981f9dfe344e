/**
 * End the tasks that settled together and claim the slots they free, in one script call
 * (finish-claim.lua: finish.lua then claim.lua). The worker's end batch sends this when the
 * machine claims as the ends go out (src/end-batch.ts): one command and one reply per batch,
 * where finish and claim would be two.
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../keys.js';
import { runScript } from '../scripts.js';
import { finishArgs, finishKeys, parseFinish, type Ending } from './leases.js';
import { claimArgs, claimKeys, parseClaim, type ClaimResult } from './queue.js';

export interface ClaimRequest {
  worker: string;
  /** at most this many tasks (> 0) */
  max: number;
  maxPayloadBytes: number;
  /** the functions the worker runs (not empty) */
  functions: string[];
}

export async function finishAndClaim(
  redis: Redis,
  keys: Keys,
  endings: Ending[],
  c: ClaimRequest,
): Promise<ClaimResult & { written: boolean[]; held: boolean }> {
  const fa = finishArgs(keys, endings);
  const reply = (await runScript(
    redis,
    'finish-claim',
    [...finishKeys(keys), ...claimKeys(keys)],
    [fa.length, ...fa, ...claimArgs(keys, c.worker, c.max, c.maxPayloadBytes, false, c.functions)],
  )) as [unknown, unknown];
  return { written: parseFinish(reply[0]), ...parseClaim(reply[1]) };
}
