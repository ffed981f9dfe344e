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
import { claimArgs, claimKeys, parseClaim, type ClaimReply, type ClaimRequest } from './queue.js';

export type { ClaimRequest };

export async function finishAndClaim(redis: Redis, keys: Keys, endings: Ending[], c: ClaimRequest): Promise<ClaimReply & { written: boolean[] }> {
  const fa = finishArgs(keys, endings);
  const reply = (await runScript(redis, 'finish-claim', [...finishKeys(keys), ...claimKeys(keys, c.worker)], [fa.length, ...fa, ...claimArgs(keys, c)])) as [
    unknown,
    unknown,
  ];
  return { written: parseFinish(reply[0]), ...parseClaim(reply[1]) };
}
