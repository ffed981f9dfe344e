/**
 * Pages of tasks by state, read from the sorted structures that already index them (the lease
 * zset for RUNNING, the delayed zset, the ended list and the recently ended zset; for QUEUED the
 * queued set and the functions' queues, queued-walk.ts): range reads and one pipelined HMGET
 * per page, so a page costs the same at a million tasks as at ten.
 *
 * A partitioned swarm (src/partitions.ts) keeps each structure once per partition, each in its
 * own order. A page walks them in turn: the rest of one partition's list, then the next one's
 * from its start, until the page is full; `from` and `next` name the partition and the place in
 * it (`<partition>:<offset>`; a bare offset is partition 0's, the only form a swarm of one
 * partition uses; `queued` has cursors of its own). A page reads at most one range per partition
 * it reaches and one count per partition: never the whole of any list.
 */
import type { Connection } from '../redis.js';
import type { Keys } from '../keys.js';
import { InvalidTaskError } from '../errors.js';
import { lastEventOf, type LastEvent } from '../wire.js';
import { walkQueued } from './queued-walk.js';
import { readTogether } from '../read-together.js';

export const TASK_LISTS = ['running', 'queued', 'delayed', 'ended'] as const;
export type TaskList = (typeof TASK_LISTS)[number];

export interface TaskRow {
  id: string;
  state: string;
  function?: string;
  worker?: string;
  attempt?: number;
  start?: number;
  update?: number;
  end?: number;
  outcome?: string;
  /** the last event on its channel (the hash's `last_event`) */
  lastEvent?: LastEvent;
  /** the list's own score: last heartbeat (running), due time (delayed) */
  score?: number;
}

export interface TaskPage {
  list: TaskList;
  total: number;
  rows: TaskRow[];
  /**
   * where the next page starts (null: no more): an offset, in a swarm of several partitions
   * prefixed with the partition (`<partition>:<offset>`); for `queued` an opaque cursor
   * (queued-walk.ts)
   */
  next: string | null;
}

export const MAX_PAGE = 500;

const FIELDS = ['state', 'function', 'worker', 'attempt', 'start', 'update', 'end', 'outcome', 'last_event'] as const;

function num(v: string | null): number | undefined {
  if (v === null) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

export async function taskPage(redis: Connection, parts: Keys[], list: string, from: string, limit: number): Promise<TaskPage> {
  if (!(TASK_LISTS as readonly string[]).includes(list)) throw new InvalidTaskError(`list must be one of ${TASK_LISTS.join(', ')}, got ${JSON.stringify(list)}`);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new InvalidTaskError(`limit must be an integer from 1 to ${MAX_PAGE}`);
  if (list === 'queued') {
    const { ids, partOf, next, total } = await walkQueued(redis, parts, from, limit);
    return { list, total, rows: await rows(redis, parts, list, ids, partOf, []), next };
  }
  const n = parts.length;
  const place = /^(?:(\d+):)?(\d+)$/.exec(from);
  // (an offset past the safe integers reached Redis as "1e+23", and its refusal was read as a page)
  if (!place || !Number.isSafeInteger(Number(place[2]))) throw new InvalidTaskError('from must be an offset (an integer >= 0, or <partition>:<offset>)');
  let p = Number(place[1] ?? 0);
  if (p >= n) throw new InvalidTaskError(`from names partition ${p}, and this swarm has ${n} (0 to ${n - 1})`);
  let pos = Number(place[2]!);
  const counts: (number | undefined)[] = Array.from({ length: n }, () => undefined);
  const ids: string[] = [];
  const scores: (number | undefined)[] = [];
  const partOf: number[] = [];
  for (let steps = 0; p < n && ids.length < limit && steps < 2 * n + 8; steps++) {
    const keys = parts[p]!;
    const stop = pos + limit - ids.length - 1;
    const got: string[] = [];
    if (list === 'ended') {
      const { range, count } = await endedRange(redis, keys, pos, stop);
      got.push(...range);
      counts[p] = count;
    } else {
      const key = list === 'running' ? keys.leases : keys.delayed;
      // running: the oldest heartbeat first (the likeliest to be in trouble); delayed: the soonest due
      const [[, range], [, count]] = (await readTogether(redis, (c) => c.zrange(key, pos, stop, 'WITHSCORES').zcard(key))) as [[unknown, string[]], [unknown, number]];
      for (let i = 0; i < range.length; i += 2) {
        scores[ids.length + got.length] = num(range[i + 1]!);
        got.push(range[i]!);
      }
      counts[p] = count;
    }
    for (const id of got) {
      ids.push(id);
      partOf.push(p);
    }
    pos += got.length;
    if (pos >= counts[p]!) {
      p++;
      pos = 0;
    }
  }
  const next = p >= n ? null : n === 1 ? String(pos) : `${p}:${pos}`;
  // the totals of the partitions the walk did not reach: one count each
  await Promise.all(
    counts.map(async (c, q) => {
      if (c !== undefined) return;
      const k = parts[q]!;
      counts[q] = await (list === 'ended' ? endedRange(redis, k, 0, -1).then((r) => r.count) : redis.zcard(list === 'running' ? k.leases : k.delayed));
    }),
  );
  const total = counts.reduce<number>((a, c) => a + (c ?? 0), 0);
  const found = await rows(redis, parts, list, ids, partOf, list === 'ended' ? [] : scores);
  // (ended: one whose hash expired since, or whose id was submitted again, is no longer an ended task)
  return { list: list as TaskList, total, rows: list === 'ended' ? found.filter((r) => r.state === 'END') : found, next };
}

/**
 * Positions `pos` to `stop` (stop -1: none) of a partition's ended tasks, newest first: those
 * awaiting the monitor's cleanup (`ended`, oldest first: read from its end), then those cleaned
 * up with their hashes kept (`recentEnded`, newest first, its last 1,000: reap.lua). `ended`
 * alone held a task for the seconds until the next cleanup, and the list was nearly always
 * empty. Read in one MULTI: a cleanup between two reads moved ids from one to the other, and a
 * page listed them twice.
 */
async function endedRange(redis: Connection, keys: Keys, pos: number, stop: number): Promise<{ range: string[]; count: number }> {
  // (the newest stop + 1 of each: the page's ids are among them, whatever the split)
  const replies = await readTogether(redis, (c) => (stop >= pos ? c.llen(keys.ended).zcard(keys.recentEnded).lrange(keys.ended, -(stop + 1), -1).zrevrange(keys.recentEnded, 0, stop) : c.llen(keys.ended).zcard(keys.recentEnded)));
  const [waiting, kept, newestWaiting, newestKept] = replies.map(([e, v]) => (e ? null : v)) as [number | null, number | null, string[] | null, string[] | null];
  const all = [...[...(newestWaiting ?? [])].reverse(), ...(newestKept ?? [])];
  // (an id ended again after it was cleaned up is in both: listed once, where it is newest)
  const seen = new Set<string>();
  const unique = all.filter((id) => !seen.has(id) && seen.add(id));
  return { range: unique.slice(pos, stop + 1), count: (waiting ?? 0) + (kept ?? 0) };
}

/** the rows of `ids`, from their hashes; `scores` the list's own, where it has one */
async function rows(redis: Connection, parts: Keys[], list: string, ids: string[], partOf: number[], scores: (number | undefined)[]): Promise<TaskRow[]> {
  const replies = await readRows(redis, parts, ids, partOf);
  return ids.map((id, i): TaskRow => {
    const [err, v] = replies[i] ?? [null, null];
    const h = (err ? [] : (v as (string | null)[])) ?? [];
    const row: TaskRow = { id, state: h[0] ?? (list === 'queued' ? 'QUEUED' : '') };
    if (h[1]) row.function = h[1];
    if (h[2]) row.worker = h[2];
    const attempt = num(h[3] ?? null);
    if (attempt !== undefined) row.attempt = attempt;
    const start = num(h[4] ?? null);
    if (start !== undefined) row.start = start;
    const update = num(h[5] ?? null);
    if (update !== undefined) row.update = update;
    const end = num(h[6] ?? null);
    if (end !== undefined) row.end = end;
    if (h[7]) row.outcome = h[7];
    const last = lastEventOf(row.state, row.end, h[8]);
    if (last) row.lastEvent = last;
    if (scores[i] !== undefined) row.score = scores[i];
    return row;
  });
}

/** HMGET of each row's hash, in the order of `ids`: one pipeline per partition (on a Cluster, one slot each) */
async function readRows(redis: Connection, parts: Keys[], ids: string[], partOf: number[]): Promise<[Error | null, unknown][]> {
  const out: [Error | null, unknown][] = Array(ids.length);
  await Promise.all(
    [...new Set(partOf)].map(async (p) => {
      const at = partOf.flatMap((q, i) => (q === p ? [i] : []));
      const pipe = redis.pipeline();
      for (const i of at) pipe.hmget(parts[p]!.task(ids[i]!), ...FIELDS);
      const replies = (await pipe.exec()) ?? [];
      at.forEach((i, j) => (out[i] = replies[j] ?? [null, null]));
    }),
  );
  return out;
}
