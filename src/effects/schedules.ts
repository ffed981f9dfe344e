/**
 * Schedule effects: set (set-schedule.lua), remove, read, and fire what fell due
 * (fire-schedule.lua), the monitor's `fireSchedules`. Ticks are computed here with croner
 * (src/schedule.ts), from Redis's clock read in the same pass; the script decides, atomically,
 * whether this monitor's firing is the one that happens.
 */
import { redisTimeAt, type Connection } from '../redis.js';
import type { Keys } from '../keys.js';
import type { FiringResult } from '../../machines/monitor.js';
import { adminCallToken, execPipeline, pipeScript, runScript, scriptPipeline } from '../scripts.js';
import { ConfigError } from '../errors.js';
import { quote } from '../quote.js';
import { raisedInScript } from '../call-fate.js';
import { firstTick, parseDefinition, taskOf, ticksAt, type ScheduleInfo } from '../schedule.js';
import { readTogether } from '../read-together.js';

/** schedules fired per pass, so one pass never holds Redis long; more due: the next pass is at once */
export const FIRE_BATCH = 100;
/** a schedule whose firing Redis refused counts as due again no sooner than this (ms) */
export const REFUSED_RETRY_MS = 1000;

export type { FiringResult };
export type Firing = FiringResult['firings'][number];
export type FiringOutcome = Firing['outcome'];

/**
 * Resolves changed true when written, false when the very same schedule was set already; next,
 * its due time as the script left it (null: none), read in the same step. A cron with no
 * tick left after Redis's now (the clock its ticks are read on, not the host's) is a ConfigError,
 * nothing written.
 */
export async function setSchedule(redis: Connection, keys: Keys, name: string, json: string, spec: Parameters<typeof firstTick>[0]): Promise<{ changed: boolean; next: number | null }> {
  const first = firstTick(spec, await redisTimeAt(redis, keys.schedules.due));
  if (first === null) throw new ConfigError(`schedule ${quote(name)}: cron ${'cron' in spec ? quote(spec.cron) : ''} never fires from now on`);
  const k = keys.schedules;
  const [written, due] = (await runScript(redis, 'set-schedule', [k.defs, k.due, keys.adminCalls], [name, json, first, adminCallToken()])) as [number, string];
  return { changed: written === 1, next: due === '' ? null : Number(due) };
}

/** Resolves false when no schedule has that name (unschedule.lua). */
export async function removeSchedule(redis: Connection, keys: Keys, name: string): Promise<boolean> {
  const k = keys.schedules;
  return (await runScript(redis, 'unschedule', [k.defs, k.due, k.last, keys.adminCalls], [name, adminCallToken()])) === 1;
}

export async function readSchedules(redis: Connection, keys: Keys): Promise<ScheduleInfo[]> {
  const k = keys.schedules;
  const [[, defs], [, due], [, last], [, time]] = (await readTogether(redis, (c) => c.hgetall(k.defs).zrange(k.due, 0, -1, 'WITHSCORES').hgetall(k.last).time())) as [
    [unknown, Record<string, string>],
    [unknown, string[]],
    [unknown, Record<string, string>],
    [unknown, [string, string]],
  ];
  const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
  const next = new Map<string, number>();
  for (let i = 0; i < due.length; i += 2) next.set(due[i]!, Number(due[i + 1]));
  const out: ScheduleInfo[] = [];
  for (const name of Object.keys(defs).sort()) {
    const p = parseDefinition(name, defs[name]!);
    const l = parseLast(last[name]);
    const at = next.get(name) ?? null;
    const base = { name, next: at, last: l.last, lastId: l.lastId, skipped: l.skipped, overdue: at !== null && at < now ? now - at : 0 };
    if ('def' in p) out.push({ ...base, spec: p.def.spec, fn: p.def.fn, data: p.def.data, options: p.def.options, overlap: p.def.overlap });
    else out.push({ ...base, spec: { every: 0 }, fn: '', data: null, options: {}, overlap: 'allow', invalid: p.invalid });
  }
  return out;
}

function parseLast(json: string | undefined): { last: number | null; lastId: string | null; skipped: number } {
  let v: Record<string, unknown> = {};
  try {
    const p: unknown = json === undefined ? {} : JSON.parse(json);
    if (p && typeof p === 'object' && !Array.isArray(p)) v = p as Record<string, unknown>;
  } catch {
    // hand-edited: read as nothing fired yet
  }
  const last = Number(v.last);
  const skipped = Number(v.skipped);
  return { last: v.last !== undefined && Number.isFinite(last) ? last : null, lastId: typeof v.lastId === 'string' ? v.lastId : null, skipped: Number.isFinite(skipped) ? skipped : 0 };
}

/**
 * Fire every schedule that fell due: each at the latest of its ticks not after now, once
 * whichever monitors try. Returns what this monitor fired (firings others won are left out)
 * and when to come back.
 */
export async function fireDue(redis: Connection, keys: Keys, monitor: string): Promise<FiringResult> {
  const k = keys.schedules;
  const [[, time], [, head]] = (await readTogether(redis, (c) => c.time().zrange(k.due, 0, FIRE_BATCH - 1, 'WITHSCORES'))) as [[unknown, [string, string]], [unknown, string[]]];
  const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
  const due: { name: string; at: number }[] = [];
  let nextDue = -1;
  for (let i = 0; i < head.length; i += 2) {
    const at = Number(head[i + 1]);
    if (at <= now) due.push({ name: head[i]!, at });
    else if (nextDue < 0) nextDue = at;
  }
  // a full batch due: more may wait behind it (the next pass at once, unless all refused: below)
  const full = due.length === FIRE_BATCH;
  if (due.length === 0) return { firings: [], now, nextDue };
  /** each planned firing's next tick (null: none, or junk dropped) */
  const nexts: (number | null)[] = [];
  const defs = await redis.hmget(k.defs, ...due.map((d) => d.name));
  const pipe = scriptPipeline(redis);
  const planned: Omit<Firing, 'outcome' | 'id'>[] = [];
  for (const [i, d] of due.entries()) {
    const json = defs[i] ?? null;
    const base = [k.defs, k.due, k.last];
    const p = json === null ? { invalid: 'no definition' } : parseDefinition(d.name, json);
    if ('invalid' in p) {
      // junk (a hand edit): its due time is dropped, or every pass would find it due again
      planned.push({ name: d.name, tick: d.at, reason: p.invalid });
      nexts.push(null);
      pipeScript(pipe, 'fire-schedule', [...base, keys.task(''), keys.queued, keys.newQueue], [d.name, d.at, json ?? '', d.at, -1, '', '', '', '', '', 0, '', '', keys.taskKeyPrefix, monitor]);
      continue;
    }
    const { tick, next } = ticksAt(p.def.spec, d.at, now);
    const s = taskOf(d.name, p.def, tick);
    const place = s.group !== '' || s.priority !== 0;
    planned.push({ name: d.name, tick });
    nexts.push(next);
    pipeScript(pipe, 'fire-schedule', [...base, keys.task(s.id), keys.queued, keys.newQueue], [
      d.name,
      d.at,
      json!,
      tick,
      next ?? -1,
      s.id,
      s.raw,
      place ? '1' : '',
      s.fn,
      s.group,
      s.priority,
      s.manualEnd ? '1' : '',
      p.def.overlap,
      keys.taskKeyPrefix,
      monitor,
    ]);
  }
  const replies = await execPipeline(pipe);
  const firings: Firing[] = [];
  const soonest = (t: number) => {
    if (nextDue < 0 || t < nextDue) nextDue = t;
  };
  let made = 0;
  for (const [i, f] of planned.entries()) {
    const [err, reply] = replies[i] ?? [new Error('no reply')];
    const next = nexts[i] ?? null;
    if (err) {
      // A refusal from inside the script (a key of its function's queue damaged by hand:
      // WRONGTYPE) is this schedule's: told as its firing, the others stand. Thrown, it sent the
      // monitor to probing and a grace for a Redis that answers, and every pass came back to it.
      if (!raisedInScript(err)) throw err;
      firings.push({ ...f, outcome: 'failed', id: '', reason: err.message });
      // (it may be due again at once, its due time not moved on: it counts as due a second
      // later at the soonest, and only it: the others' ticks keep theirs. Pushing the whole
      // pass's next out held a schedule due every 200 ms beside it to one firing a second)
      soonest(Math.max(next ?? -1, now + REFUSED_RETRY_MS));
      continue;
    }
    made++;
    if (next !== null) soonest(next);
    const [outcome, id] = reply as [string, string];
    if (outcome === 'moved') continue;
    firings.push({ ...f, outcome: outcome as FiringOutcome, id });
  }
  // a full batch: more may be due behind it, the next pass at once; but not when every firing
  // of it was refused (they may be the batch again, at once and again)
  if (full && made > 0) nextDue = now;
  return { firings, now, nextDue };
}
