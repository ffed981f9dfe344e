/**
 * Pages of tasks by state, read from the sorted structures that already index them (the lease
 * zset for RUNNING, the delayed zset, the ended list, the queued set by cursor): one range
 * read and one pipelined HMGET per page, so a page costs the same at a million tasks as at ten.
 */
import type { Connection } from '../redis.js';
import type { Keys } from '../keys.js';
import { InvalidTaskError } from '../errors.js';
import { parseLastEvent, type LastEvent } from '../wire.js';

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
  /** where the next page starts: an offset, or for `queued` the SSCAN cursor ('0': no more) */
  next: string | null;
}

export const MAX_PAGE = 500;

const FIELDS = ['state', 'function', 'worker', 'attempt', 'start', 'update', 'end', 'outcome', 'last_event'] as const;

function num(v: string | null): number | undefined {
  if (v === null) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

export async function taskPage(redis: Connection, keys: Keys, list: string, from: string, limit: number): Promise<TaskPage> {
  if (!(TASK_LISTS as readonly string[]).includes(list)) throw new InvalidTaskError(`list must be one of ${TASK_LISTS.join(', ')}, got ${JSON.stringify(list)}`);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new InvalidTaskError(`limit must be an integer from 1 to ${MAX_PAGE}`);
  let ids: string[];
  let scores: (number | undefined)[] = [];
  let total: number;
  let next: string | null;
  if (list === 'queued') {
    // a set has no order to page by: SSCAN's cursor walks it in bounded steps
    if (!/^\d+$/.test(from)) throw new InvalidTaskError('from must be a cursor (digits)');
    const [[, cursor], [, count]] = (await redis.multi().sscan(keys.queued, from, 'COUNT', limit).scard(keys.queued).exec()) as [[unknown, [string, string[]]], [unknown, number]];
    ids = cursor[1];
    total = count;
    next = cursor[0] === '0' ? null : cursor[0];
  } else {
    const offset = Number(from);
    if (!Number.isInteger(offset) || offset < 0) throw new InvalidTaskError('from must be an offset (an integer >= 0)');
    const stop = offset + limit - 1;
    if (list === 'ended') {
      const [[, got], [, count]] = (await redis.multi().lrange(keys.ended, offset, stop).llen(keys.ended).exec()) as [[unknown, string[]], [unknown, number]];
      ids = got;
      total = count;
    } else {
      const key = list === 'running' ? keys.leases : keys.delayed;
      // running: the oldest heartbeat first (the likeliest to be in trouble); delayed: the soonest due
      const [[, got], [, count]] = (await redis.multi().zrange(key, offset, stop, 'WITHSCORES').zcard(key).exec()) as [[unknown, string[]], [unknown, number]];
      ids = [];
      for (let i = 0; i < got.length; i += 2) {
        ids.push(got[i]!);
        scores.push(num(got[i + 1]!));
      }
      total = count;
    }
    next = offset + ids.length < total ? String(offset + ids.length) : null;
  }
  if (list !== 'running' && list !== 'delayed') scores = [];
  const pipe = redis.pipeline();
  for (const id of ids) pipe.hmget(keys.task(id), ...FIELDS);
  const replies = ids.length ? ((await pipe.exec()) ?? []) : [];
  const rows = ids.map((id, i): TaskRow => {
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
    const last = parseLastEvent(h[8]);
    if (last) row.lastEvent = last;
    if (scores[i] !== undefined) row.score = scores[i];
    return row;
  });
  return { list: list as TaskList, total, rows, next };
}
