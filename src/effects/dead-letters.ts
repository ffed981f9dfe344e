/**
 * The dead-letter store (src/lua/lib/park.lua): read it newest first, retry or purge an entry by
 * its key (retry-dead.lua, purge-dead.lua), and keep it within the retention the user chose
 * (trim-dead.lua, run by the monitor).
 */
import type { Connection } from '../redis.js';
import { readTogether } from '../read-together.js';
import type { Keys } from '../keys.js';
import { adminCallToken, runScript } from '../scripts.js';
import { DEAD_LETTER_REASONS, InvalidTaskError, type DeadLetterReason } from '../errors.js';
import { dictionary } from '../dictionary.js';

export interface DeadLetter {
  /** names this entry for good (retry and purge take it); a number that only grows */
  key: string;
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
  /** the claims of the task that ended with its worker's death (max_attempts) */
  history?: unknown[];
  /** the entry is a task's: its hash says so too (state END, outcome failed, `parked`) */
  task: boolean;
  /** set (to the entry's size in bytes) when `raw` holds only its first 4 KB: it cannot be retried */
  truncated?: number;
}

/** An entry as stored, read totally: a hand-edited one comes back as reason 'unknown'. */
export function parseDeadLetter(key: string, json: string | null): DeadLetter {
  let o: Partial<DeadLetter> & Record<string, unknown> = {};
  try {
    const v: unknown = JSON.parse(json ?? '');
    if (v && typeof v === 'object' && !Array.isArray(v)) o = v as typeof o;
  } catch {
    // unreadable: described below
  }
  const reason = typeof o.reason === 'string' && o.reason in DEAD_LETTER_REASONS ? (o.reason as DeadLetterReason) : undefined;
  return {
    key,
    reason: reason ?? ('unknown' as DeadLetterReason),
    code: reason ? DEAD_LETTER_REASONS[reason].code : 'ERR_INVALID_TASK',
    message: typeof o.message === 'string' ? o.message : o.message !== undefined ? JSON.stringify(o.message) : `dead letter ${key} is not an entry this swarm wrote`,
    raw: typeof o.raw === 'string' ? o.raw : (json ?? ''),
    ...(typeof o.id === 'string' ? { id: o.id } : {}),
    // NaN when the entry has no usable time (shown as "?", and as null in JSON)
    at: typeof o.at === 'number' && Number.isFinite(o.at) ? o.at : NaN,
    ...(typeof o.worker === 'string' ? { worker: o.worker } : {}),
    ...(Array.isArray(o.history) ? { history: o.history } : {}),
    task: o.task === true,
    ...(typeof o.truncated === 'number' ? { truncated: o.truncated } : {}),
  };
}

/** Entries newest first: `offset` entries skipped, at most `limit`; and how many there are. */
export async function readDeadLetters(redis: Connection, keys: Keys, offset: number, limit: number): Promise<{ letters: DeadLetter[]; total: number }> {
  const [[, ids], [, total]] = (await readTogether(redis, (c) => c.zrevrange(keys.dead.index, offset, offset + Math.max(0, limit) - 1).zcard(keys.dead.index))) as [[null, string[]], [null, number]];
  if (ids.length === 0) return { letters: [], total };
  const entries = await redis.hmget(keys.dead.entries, ...ids);
  const letters: DeadLetter[] = [];
  ids.forEach((key, i) => {
    // retried or purged between the two reads: gone
    if (entries[i] !== null) letters.push(parseDeadLetter(key, entries[i]!));
  });
  return { letters, total };
}

export async function readDeadLetter(redis: Connection, keys: Keys, key: string): Promise<DeadLetter | null> {
  const json = await redis.hget(keys.dead.entries, key);
  return json === null ? null : parseDeadLetter(key, json);
}

/**
 * Queue the entry's task again; false when no entry has that key (retried or purged). An entry
 * that holds no task to queue (truncated, edited by hand, or a task parked for its entry removed
 * by hand: raw ''), or one parked for what its own bytes are (not JSON, no id or function), is
 * refused with an InvalidTaskError saying why (retry-dead.lua's error).
 */
export async function retryDead(redis: Connection, keys: Keys, key: string): Promise<boolean> {
  try {
    return (await runScript(redis, 'retry-dead', [...keys.deadStore, keys.newQueue, keys.adminCalls], [key, keys.taskKeyPrefix, adminCallToken()])) === 1;
  } catch (e) {
    // (each of retry-dead.lua's refusals: "holds no entry", a task parked for its removed
    // entry, was missed here, and reached the caller as Redis's ReplyError, "unexpected" to the CLI)
    const m = /dead letter \S+ (is not|holds only|holds no entry|was parked for)[^]*/.exec((e as Error).message ?? '');
    if (m) throw new InvalidTaskError(m[0]);
    throw e;
  }
}

/** Delete the entry (and a parked task's hash); false when no entry has that key. */
export async function purgeDead(redis: Connection, keys: Keys, key: string): Promise<boolean> {
  return (await runScript(redis, 'purge-dead', [...keys.deadStore, keys.adminCalls], [key, keys.taskKeyPrefix, adminCallToken()])) === 1;
}

/**
 * One bounded pass of the retention (trim-dead.lua): junk past `max` and, with `retention`,
 * every entry older than it. Returns what was dropped by reason, and whether to call again.
 */
export async function trimDeadLetters(
  redis: Connection,
  keys: Keys,
  max: number,
  retention: number,
  limit: number,
): Promise<{ dropped: Partial<Record<string, number>>; more: boolean }> {
  const [flat, more] = (await runScript(redis, 'trim-dead', keys.deadStore, [max, retention, keys.taskKeyPrefix, limit])) as [(string | number)[], number];
  const dropped: Partial<Record<string, number>> = dictionary();
  for (let i = 0; i < flat.length; i += 2) dropped[String(flat[i])] = Number(flat[i + 1]);
  return { dropped, more: more === 1 };
}

/** Counts kept in the store's stats hash: parked, dropped, retried and purged, by reason. */
export async function deadLetterStats(redis: Connection, keys: Keys): Promise<Record<string, number>> {
  const h = await redis.hgetall(keys.dead.stats);
  const out = dictionary<number>();
  for (const [k, v] of Object.entries(h)) if (k !== 'seq') out[k] = Number(v);
  return out;
}
