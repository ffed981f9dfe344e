/**
 * How large a task a Client lets through. A worker parks an entry over its `maxPayloadBytes`
 * (`too_large`, claim.lua), long after its producer was answered; the Client refuses such a task
 * at submit instead, with a TaskTooLargeError, nothing written.
 *
 * - A Client given `maxPayloadBytes` refuses what is over it, checked here before anything is
 *   sent.
 * - A Client given none follows the live workers. Each writes its `maxPayloadBytes` in
 *   `workers:max-payload` as it registers (register.lua; a monitor that prunes it drops it). An
 *   entry over CHECKED_OVER is refused when it is over every one of them: no live worker would
 *   take it. A worker with a lower limit than another's may still park it, as before. The live
 *   workers are those listed in `workers`: one listed that wrote no limit (the version before
 *   the hash, in a rolling upgrade) might take anything, and refuses nothing; an entry of one
 *   no longer listed counts for nothing.
 *
 * Why not one default limit, as the workers have: an app whose workers take more than that,
 * upgraded, would have its large tasks refused by a Client it never configured. And why not
 * read the workers' limits for every task: one entry of up to 64 KiB costs a submit less than
 * the read; past that, the entry's own write costs more than the read does. No limit declared
 * (no worker runs, or only workers from before the hash; or rules that do not let the producer
 * read it): nothing is refused on the workers' account.
 */
import type { Connection } from './redis.js';
import type { Keys } from './keys.js';
import { TaskTooLargeError } from './errors.js';
import type { Submission } from './submission.js';
import { quote } from './quote.js';

/** entries up to this size (UTF-8 bytes) are never read against the workers' limits */
export const CHECKED_OVER = 64 * 1024;

/** a limit to refuse entries over: the Client's own, or the largest of the live workers' */
export interface PayloadLimit {
  bytes: number;
  whose: 'client' | 'workers';
}

/** the refusal of an entry of `bytes` over `limit` (in `where`: 'submit', 'submitMany[3]'...) */
export function tooLarge(where: string, what: string, bytes: number, limit: PayloadLimit): TaskTooLargeError {
  const over = limit.whose === 'client' ? `the client's maxPayloadBytes ${limit.bytes}` : `the maxPayloadBytes of every live worker (the largest is ${limit.bytes}): none would take it`;
  return new TaskTooLargeError(`${where}: ${what} is ${bytes} bytes as JSON, over ${over} (a worker parks a larger entry too_large); nothing was written`, bytes, limit.bytes);
}

/**
 * The entry's size in UTF-8 bytes (as Redis and the workers count it) when it is over `bytes`,
 * else undefined. Cheap: its length alone tells for most entries (a UTF-16 unit is 1 to 3 bytes,
 * a pair 4), and only a longer one is counted.
 */
export function sizeOver(sub: Submission, bytes: number): number | undefined {
  if (sub.raw.length * 3 <= bytes) return undefined;
  const size = Buffer.byteLength(sub.raw, 'utf8');
  return size > bytes ? size : undefined;
}

/** Refuse `sub` when its entry is over `limit` (none: nothing refused). */
export function checkEntrySize(sub: Submission, where: string, limit: PayloadLimit | undefined, what?: string): void {
  if (!limit) return;
  const size = sizeOver(sub, limit.bytes);
  // (named only when refused: every submit passes here)
  if (size !== undefined) throw tooLarge(where, what ?? `task ${quote(sub.id)}`, size, limit);
}

/**
 * The largest maxPayloadBytes the live workers of `keys` declared, or undefined, which refuses
 * nothing on their account: no worker listed, one listed that declared none (a worker of the
 * version before the hash; one listed again by its heartbeat before it writes its limit again; a
 * value written by hand that is not one), or the keys could not be read (rules from before the
 * hash). The live workers are those listed in `workers`: an entry of one no longer listed (pruned
 * by a monitor of the version before, which left it) counts for nothing. As submit.lua reads them.
 */
export async function workersLimit(redis: Connection, keys: Keys): Promise<PayloadLimit | undefined> {
  let workers: string[];
  let limits: Record<string, string>;
  try {
    // (one slot: a pipeline, one round trip)
    const replies = (await redis.pipeline().smembers(keys.workerSet).hgetall(keys.workerMaxPayload).exec()) ?? [];
    const [[e1, w], [e2, l]] = [replies[0] ?? [null, []], replies[1] ?? [null, {}]];
    if (e1 || e2) return undefined;
    [workers, limits] = [w as string[], l as Record<string, string>];
  } catch {
    return undefined;
  }
  let largest = 0;
  for (const w of workers) {
    const n = Number(limits[w]);
    if (!Number.isSafeInteger(n) || n <= 0) return undefined;
    if (n > largest) largest = n;
  }
  return largest > 0 ? { bytes: largest, whose: 'workers' } : undefined;
}
