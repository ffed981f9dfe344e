/**
 * What a schedule is: its name, when it ticks (a cron expression in a time zone, read by croner,
 * or every n ms), and the task it queues at each tick. Checked here, in one place, before
 * anything is written; and the tick arithmetic the monitors do at each firing (docs/queue-layout.md,
 * "Schedules"). Times are epoch ms on Redis's clock: the caller passes Redis's now.
 */
import { Cron } from 'croner';
import { ConfigError, InvalidTaskError } from './errors.js';
import { buildSubmission, checkBackoff, SUBMIT_OPTIONS, type Submission, type SubmitOptions } from './submission.js';
import { wellFormed } from './wire.js';
import { escapeControls, quote } from './quote.js';
import { ZONE_LINKS } from './zone-links.js';

export type ScheduleSpec =
  /** a cron expression (5 fields, 6 with seconds first, or 7 with a year last), read in `tz` (an IANA zone; default UTC) */
  | { cron: string; tz?: string }
  /** every this many ms, from when the schedule was set */
  | { every: number };

/**
 * What a tick does while the task of the previous tick is still queued, delayed or running:
 * 'allow' queues another all the same (default), 'skip' skips the tick (counted in `skipped`).
 */
export type Overlap = 'allow' | 'skip';

/** The task options of a schedule: those of submit but the ones that say when or whether it is queued. */
export type ScheduleOptions = Omit<SubmitOptions, 'id' | 'delay' | 'runAt' | 'key'> & { overlap?: Overlap };

/** A schedule as stored (its JSON is the compare-and-set token of a firing). */
export interface ScheduleDefinition {
  spec: { cron: string; tz: string } | { every: number };
  fn: string;
  data: unknown;
  /** the task options, as given (checked) */
  options: Omit<ScheduleOptions, 'overlap'>;
  overlap: Overlap;
}

export interface ScheduleInfo {
  name: string;
  spec: ScheduleDefinition['spec'];
  fn: string;
  data: unknown;
  options: ScheduleDefinition['options'];
  overlap: Overlap;
  /** the next tick (Redis ms), or null when the expression has no tick left */
  next: number | null;
  /** the tick whose task was queued last (Redis ms), or null before the first */
  last: number | null;
  /** that task's id */
  lastId: string | null;
  /** ticks skipped because the previous task was still queued or running (overlap 'skip') */
  skipped: number;
  /**
   * ms its next tick is past, on Redis's clock (0 when it is not due yet): a running monitor
   * fires a tick as it falls due, so more than a few seconds says that none runs
   */
  overdue: number;
  /** set when the stored definition is not one this version wrote (edited by hand): it does not fire */
  invalid?: string;
}

/** a name's longest form, bytes: with the tick it makes a task id well under MAX_ID_BYTES */
export const MAX_SCHEDULE_NAME_BYTES = 200;
/** below this a monitor would do nothing but fire */
export const MIN_EVERY_MS = 10;
/** ten years: anything longer is surely a unit mistake */
export const MAX_EVERY_MS = 10 * 366 * 24 * 3600 * 1000;

const REFUSED: readonly string[] = ['id', 'delay', 'runAt', 'key'];
const TASK_OPTIONS = SUBMIT_OPTIONS.filter((k) => !REFUSED.includes(k));

/** The id of the task a tick queues: the same for the same tick, whoever fires it. */
/** how the id of a task a schedule fires starts (such tasks live in partition 0, with the schedules) */
export const SCHEDULE_ID_PREFIX = 'schedule:';

export function scheduleTaskId(name: string, tick: number): string {
  return `${SCHEDULE_ID_PREFIX}${name}@${new Date(tick).toISOString()}`;
}

function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

export function checkScheduleName(where: string, name: unknown): string {
  if (typeof name !== 'string' || name === '' || !wellFormed(name) || Buffer.byteLength(name) > MAX_SCHEDULE_NAME_BYTES || hasControl(name)) {
    throw new ConfigError(`${where}: name must be a non-empty string of at most ${MAX_SCHEDULE_NAME_BYTES} bytes without control characters, got ${show(name)}`);
  }
  return name;
}

/** The schedule checked and normalised, and its stored JSON; throws a ConfigError naming what is wrong. */
export function checkSchedule(name: unknown, spec: unknown, fn: unknown, data: unknown, options: unknown, stored = false): { name: string; def: ScheduleDefinition; json: string } {
  const n = checkScheduleName('schedule', name);
  // (quoted as `schedules` lists it: a name may hold the C1 controls, NEL a line break to a
  // terminal, which `schedule "${n}"` printed raw)
  const where = `schedule ${quote(n)}`;
  const s = checkSpec(where, spec);
  const o = options ?? {};
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new ConfigError(`${where}: options must be an object`);
  const { overlap, ...task } = o as ScheduleOptions & Record<string, unknown>;
  for (const k of Object.keys(task)) {
    if (REFUSED.includes(k)) throw new ConfigError(`${where}: option "${k}" is not for schedules (a schedule's task is queued at its tick, with an id made of the name and the tick)`);
    if (!(TASK_OPTIONS as string[]).includes(k)) throw new ConfigError(`${where}: unknown option "${k}" (known: ${[...TASK_OPTIONS, 'overlap'].join(', ')})`);
  }
  if (overlap !== undefined && overlap !== 'allow' && overlap !== 'skip') throw new ConfigError(`${where}: overlap must be 'allow' or 'skip', got ${show(overlap)}`);
  // (the options in one order, whatever the caller's: the stored JSON is what "the same
  // schedule" compares, and one set again in another order started an `every` over)
  const ordered = Object.fromEntries(TASK_OPTIONS.filter((k) => Object.hasOwn(task, k)).map((k) => [k, (task as Record<string, unknown>)[k]])) as typeof task;
  // (and a backoff object in its checked form, its fields in one order and its defaults left
  // out: { delay, type } and { type, delay, jitter: 0 } are the backoff { type, delay } too)
  if (ordered.backoff !== undefined && typeof ordered.backoff === 'object') ordered.backoff = checkBackoff(`${where}: backoff`, ordered.backoff, stored);
  const def: ScheduleDefinition = { spec: s, fn: fn as string, data: data === undefined ? null : data, options: ordered, overlap: overlap ?? 'allow' };
  // the task of a tick, as a monitor will build it: whatever would refuse it is refused now
  try {
    taskOf(n, def, 0, where);
  } catch (e) {
    // a bad function or data is a bad argument of schedule(): one error type for all of them
    if (e instanceof InvalidTaskError) throw new ConfigError(e.message);
    throw e;
  }
  return { name: n, def, json: JSON.stringify(def) };
}

/** The submission of the task a tick queues. */
export function taskOf(name: string, def: ScheduleDefinition, tick: number, where = `schedule ${quote(name)}`): Submission {
  return buildSubmission(def.fn, def.data, { ...(def.options as SubmitOptions), id: scheduleTaskId(name, tick) }, where);
}

/**
 * The spec checked and normalised. Whether a cron has a tick left is not judged here, on the
 * host's clock: setSchedule judges it on Redis's, which the ticks are read on (a host clock ahead
 * of Redis's refused a cron whose last ticks were still to come there).
 */
function checkSpec(where: string, spec: unknown): ScheduleDefinition['spec'] {
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) throw new ConfigError(`${where}: spec must be { cron, tz? } or { every }, got ${show(spec)}`);
  const o = spec as Record<string, unknown>;
  const keys = Object.keys(o);
  if ('every' in o) {
    if (keys.length !== 1) throw new ConfigError(`${where}: spec { every } takes nothing else, got ${keys.join(', ')}`);
    const e = o.every;
    if (typeof e !== 'number' || !Number.isInteger(e) || e < MIN_EVERY_MS || e > MAX_EVERY_MS) {
      throw new ConfigError(`${where}: every must be an integer number of ms from ${MIN_EVERY_MS} to ${MAX_EVERY_MS}, got ${show(e)}`);
    }
    return { every: e };
  }
  if (!('cron' in o)) throw new ConfigError(`${where}: spec must be { cron, tz? } or { every }, got ${show(spec)}`);
  for (const k of keys) if (k !== 'cron' && k !== 'tz') throw new ConfigError(`${where}: unknown spec field "${k}" (known: cron, tz; or every)`);
  const given = o.tz ?? 'UTC';
  const tz = typeof given === 'string' && given !== '' ? canonicalZone(given) : undefined;
  if (tz === undefined) throw new ConfigError(`${where}: tz must be an IANA time zone (e.g. "Europe/Berlin"), got ${show(o.tz)}`);
  if (typeof o.cron !== 'string' || o.cron.trim() === '') throw new ConfigError(`${where}: cron must be a cron expression, got ${show(o.cron)}`);
  const cron = o.cron.trim();
  try {
    cronOf(cron, tz);
  } catch (e) {
    throw new ConfigError(`${where}: cron ${quote(cron)} does not parse: ${escapeControls((e as Error).message)}`);
  }
  return { cron, tz };
}

/**
 * The zone `tz` names, in the runtime's case (`europe/berlin` is `Europe/Berlin`, `utc` is
 * `UTC`), or undefined when it names none. Written so in the definition, whose JSON is what "the
 * same schedule" compares: the same zone in another case was a change (an `every` started over,
 * `changed: true`). Only the case is taken: a link stays as written (`Asia/Kolkata`, `US/Pacific`,
 * `Etc/UTC`), where Node 20's Intl names the zone it links to (`Asia/Calcutta`,
 * `America/Los_Angeles`, `UTC`), which is not the name its user gave or will look for; in
 * tzdata's case (src/zone-links.ts), which Intl does not give for a link: `asia/kolkata` and
 * `Asia/Kolkata`, `gmt` and `GMT`, were two definitions again.
 */
function canonicalZone(tz: string): string | undefined {
  try {
    const named = new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
    if (named.toLowerCase() === tz.toLowerCase()) return named;
    // (a link, whose own case Intl does not give: tzdata's; one it lists not, as written)
    return ZONE_LINKS.get(tz.toLowerCase()) ?? tz;
  } catch {
    return undefined;
  }
}

const crons = new Map<string, Cron>();
function cronOf(pattern: string, tz: string): Cron {
  const k = `${tz}\n${pattern}`;
  let c = crons.get(k);
  if (!c) {
    // paused, with no function: croner only computes, it never sets a timer of its own
    c = new Cron(pattern, { timezone: tz, paused: true });
    if (crons.size > 1000) crons.clear();
    crons.set(k, c);
  }
  return c;
}

/** The first tick after `now`, or null when there is none. */
export function firstTick(spec: ScheduleDefinition['spec'], now: number): number | null {
  if ('every' in spec) return now + spec.every;
  return cronOf(spec.cron, spec.tz).nextRun(new Date(now))?.getTime() ?? null;
}

/**
 * The firing of a schedule that fell due at `due` (a tick) when it is `now` (>= due): the tick
 * it fires for is the latest one not after now (missed ticks fire once, for the latest), and
 * the next is the first one after now (null: none is left).
 */
export function ticksAt(spec: ScheduleDefinition['spec'], due: number, now: number): { tick: number; next: number | null } {
  if ('every' in spec) {
    const tick = due + Math.floor(Math.max(0, now - due) / spec.every) * spec.every;
    return { tick, next: tick + spec.every };
  }
  const c = cronOf(spec.cron, spec.tz);
  // croner reads the time it is given at its whole second and looks before that second: asked
  // before now + 1 it missed a tick up to a second old (a monitor that woke 400 ms after an hourly
  // tick fired the hour before, and skipped the latest). Ticks are whole seconds, so the latest
  // not after now is the latest before the second that follows now's.
  const prev = c.previousRuns(1, new Date(Math.floor(now / 1000) * 1000 + 1000))[0]?.getTime();
  const tick = prev !== undefined && prev > due ? prev : due;
  return { tick, next: c.nextRun(new Date(Math.max(now, tick)))?.getTime() ?? null };
}

/** A stored definition read back, or why it is not one (a hand edit): total, never throws. */
export function parseDefinition(name: string, json: string): { def: ScheduleDefinition } | { invalid: string } {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return { invalid: 'not JSON' };
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return { invalid: 'not an object' };
  const d = v as Record<string, unknown>;
  try {
    const { def } = checkSchedule(name, d.spec, d.fn, d.data, { ...(d.options as object), overlap: d.overlap }, true);
    return { def };
  } catch (e) {
    return { invalid: (e as Error).message };
  }
}

function show(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (v === undefined) return 'undefined';
  try {
    return escapeControls((JSON.stringify(v) ?? typeof v).slice(0, 80));
  } catch {
    return typeof v;
  }
}
