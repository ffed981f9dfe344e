/**
 * Reads made together, in a MULTI: one view of several keys, none changed between them. A Redis
 * at its maxmemory (noeviction) refuses every command queued in a MULTI, reads too ("EXECABORT
 * Transaction discarded", each queued one "OOM command not allowed"): `get`, `deadLetters`,
 * `stats` and the CLI's `status`, `dead` and `get` failed there, though they write nothing, and
 * the dead letters the README names as the memory to free could not be listed. Refused so, the
 * reads are made again in a pipeline: each as it stands then, which a read there can only be.
 */
import type { ChainableCommander } from 'ioredis';
import type { Connection } from './redis.js';

export async function readTogether(redis: Connection, reads: (c: ChainableCommander) => ChainableCommander): Promise<[Error | null, unknown][]> {
  try {
    return (await reads(redis.multi()).exec()) ?? [];
  } catch (e) {
    if (!refusedFull(e)) throw e;
    const replies = (await reads(redis.pipeline()).exec()) ?? [];
    // (refused by an ACL too: thrown, as the MULTI's refusal was, not left to a reply read as data)
    const denied = replies.find(([err]) => err && /^NOPERM/.test(err.message));
    if (denied) throw denied[0];
    return replies;
  }
}

/** a MULTI discarded because Redis was full when its commands were queued */
function refusedFull(e: unknown): boolean {
  if (!(e instanceof Error) || !/^EXECABORT/.test(e.message)) return false;
  const previous = (e as { previousErrors?: unknown }).previousErrors;
  return Array.isArray(previous) && previous.some((p) => p instanceof Error && /^OOM /.test(p.message));
}
