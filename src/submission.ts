/**
 * What a submission is: the options a producer may give a task, checked in one place (for
 * `submit`, `submitMany` and schedules alike), and the task entry they make. Options that travel
 * with the task (`attempts`, `backoff`, `timeout`, `priority`, `group`) are fields of its JSON
 * entry, the seed's format, so a producer that pushes entries by hand may write them too; the
 * others (`delay`/`runAt`, `key`) say where and whether the task is queued, and are arguments of
 * the submit script.
 */
import { nanoid } from 'nanoid';
import { ConfigError, InvalidTaskError } from './errors.js';
import { quote } from './quote.js';
import { jsonChangesInside, jsonDeeperThan, jsonDrops, jsonHasLoneSurrogate, MAX_ID_BYTES, MAX_JSON_DEPTH, readsAsJson, thrownText, wellFormed } from './wire.js';
import { checkGroup } from './effects/limits.js';

/** How long to wait before the next attempt, when an attempt failed. */
export type BackoffOption =
  /** fixed: this many ms between attempts */
  | number
  | {
      type: 'fixed' | 'exponential';
      /** ms: the wait after the first failure (exponential: doubled after each further one) */
      delay: number;
      /** 0..1: each wait is drawn from [wait x (1 - jitter), wait] (default 0) */
      jitter?: number;
      /** ms: no wait longer than this (default none) */
      max?: number;
    };

export interface SubmitOptions {
  /**
   * your own id; default a random one. Another task with a used id (queued, running, ended and
   * retained, or parked) is refused with DuplicateTaskError; the very same task again (same
   * function, data and options) is the same submission, and gets its id back.
   */
  id?: string;
  /** keep the task's hash after it ends, listed in `end-task`, for manual cleanup */
  manualEnd?: boolean;
  /**
   * an integer from -1000 to 1000, higher runs sooner (default 0), within the task's group; a
   * task of priority p is placed as if queued p seconds earlier, so nothing starves
   * (docs/queue-layout.md)
   */
  priority?: number;
  /** fairness key (a string of 1..128 bytes): the groups with queued work of a function take turns */
  group?: string;
  /**
   * tries in all (default 1): an attempt that throws (or times out, or whose worker dies) is
   * tried again, after `backoff`, until this many have run. Throw a NonRetryableError to end the
   * task failed at once.
   */
  attempts?: number;
  /** the wait before each new attempt (default 0: at once) */
  backoff?: BackoffOption;
  /**
   * ms per attempt, on the worker's timer: the task's AbortSignal fires with a TimeoutError as
   * its reason (code ERR_TIMEOUT), and the attempt ends failed with that error as soon as the
   * function settles, or abortTimeout later if it ignores the signal, whatever it returned
   * (docs/semantics.md, "Timeouts")
   */
  timeout?: number;
  /** ms to wait before the task may start (Redis's clock) */
  delay?: number;
  /** when the task may start: a Date or epoch ms, on Redis's clock (not with `delay`) */
  runAt?: Date | number;
  /**
   * dedupe key: while a task submitted with this key is queued, delayed or running, submitting
   * another with it returns that task's id and queues nothing
   */
  key?: string;
}

export const SUBMIT_OPTIONS: readonly (keyof SubmitOptions)[] = ['id', 'manualEnd', 'priority', 'group', 'attempts', 'backoff', 'timeout', 'delay', 'runAt', 'key'];

/** the longest wait a timer can hold (setTimeout's bound), ms: about 24.8 days */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** attempts above this are surely a mistake (and would grow a task's history without end) */
export const MAX_ATTEMPTS = 1000;
/** a dedupe key's longest form, bytes */
export const MAX_KEY_BYTES = 512;

/** A task ready for the submit script. */
export interface Submission {
  id: string;
  fn: string;
  /** the task's JSON entry, as it goes on the queue (the seed's format) */
  raw: string;
  group: string;
  priority: number;
  manualEnd: boolean;
  /** epoch ms on Redis's clock, or a delay in ms from Redis's now; undefined: now */
  due?: { at: number } | { delay: number };
  key?: string;
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/**
 * A new task id: nanoid's, but never starting with "-", which a command line reads as an option
 * (`task-swarm cancel -Ab3...` failed, one id in 64).
 */
export function newTaskId(): string {
  const id = nanoid();
  return id.startsWith('-') ? `_${id.slice(1)}` : id;
}

/**
 * What a producer adds to the entries it writes, for the workers' metrics and traces (fields a
 * worker that does not know them ignores): `now`, its clock (epoch ms) at the submit, written as
 * `queued_at` (the due time, for a delayed task) when the id is generated, so that the first
 * claim can tell how long the task waited (an id the caller chose is left without: the same task
 * submitted again must be the same entry; one it had the producer draw, `firstSubmitOf`, has
 * the time of its first submit, the same at every submit of it); `trace`, the context its claims'
 * spans take as their parent (src/telemetry/submit-trace.ts).
 */
export interface ProducerContext {
  now?: number;
  trace?: Record<string, string>;
  /**
   * for an id this producer drew for a submit to come (Client.drawId): the `now` of its first
   * submit (`now`, when this is the first); else undefined
   */
  firstSubmitOf?: (id: string, now: number) => number | undefined;
}

/**
 * `where` names the call in errors ('submit', 'submitMany[3]', 'schedule "nightly"'). `newId`
 * draws the id of a task submitted without one, given where it would be placed: its group, else
 * its dedupe key (a partitioned swarm keeps those together: src/partitions.ts).
 */
export function buildSubmission(
  fn: unknown,
  data: unknown,
  options: SubmitOptions | undefined,
  where = 'submit',
  newId: (place?: string) => string = newTaskId,
  producer: ProducerContext = {},
): Submission {
  if (typeof fn !== 'string' || fn === '') throw new InvalidTaskError(`${where}: function name must be a non-empty string`);
  // (the claim reads an entry with cjson, which refuses a lone surrogate: it would be parked unrun)
  if (!wellFormed(fn)) throw new InvalidTaskError(`${where}: function name must be well-formed Unicode (it holds a lone surrogate)`);
  const o = options ?? {};
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new ConfigError(`${where}: options must be an object`);
  for (const k of Object.keys(o)) {
    if (!(SUBMIT_OPTIONS as string[]).includes(k)) throw new ConfigError(`${where}: unknown option "${k}" (known: ${SUBMIT_OPTIONS.join(', ')})`);
  }
  // (null as undefined: drawn here)
  const given: unknown = o.id ?? undefined;
  if (given !== undefined) {
    if (typeof given !== 'string' || given === '') throw new InvalidTaskError(`${where}: id must be a non-empty string`);
    checkIdText(where, given);
  }
  let id = (given as string | undefined) ?? '';
  // Text that reads as JSON is stored as its JSON text: the entry's `data` as a JSON string is the
  // seed's form (taskData parses it), so '42' stored as itself would reach the function as 42.
  // Other text is stored as itself (readsAsJson). So is data JSON writes as a string (a toJSON's
  // text, a decimal type's; a String object).
  // (set below, once the id is known for the errors: `data` stays the entry's third field)
  const entry: Record<string, unknown> = { id, function: fn, data: null };
  if (o.manualEnd !== undefined && typeof o.manualEnd !== 'boolean') throw new ConfigError(`${where}: manualEnd must be true or false, got ${show(o.manualEnd)}`);
  if (o.manualEnd) entry.manual_end = true;
  if (o.priority !== undefined && o.priority !== 0) {
    const p = o.priority;
    if (!isInt(p) || p < -1000 || p > 1000) throw new ConfigError(`${where}: priority must be an integer from -1000 to 1000, got ${show(p)}`);
    entry.priority = p;
  }
  if (o.group !== undefined) entry.group = checkGroup(`${where}: group`, o.group);
  if (o.attempts !== undefined) {
    if (!isInt(o.attempts) || o.attempts < 1 || o.attempts > MAX_ATTEMPTS) throw new ConfigError(`${where}: attempts must be an integer from 1 to ${MAX_ATTEMPTS}, got ${show(o.attempts)}`);
    if (o.attempts > 1) entry.attempts = o.attempts;
  }
  if (o.backoff !== undefined) {
    const b = checkBackoff(`${where}: backoff`, o.backoff);
    if (b !== 0) entry.backoff = b;
  }
  if (o.timeout !== undefined) entry.timeout = checkMs(`${where}: timeout`, o.timeout, 1);
  let due: Submission['due'];
  if (o.delay !== undefined && o.runAt !== undefined) throw new ConfigError(`${where}: give delay or runAt, not both`);
  if (o.delay !== undefined) {
    const d = checkMs(`${where}: delay`, o.delay, 0);
    if (d > 0) due = { delay: d };
  }
  if (o.runAt !== undefined) {
    const at = o.runAt instanceof Date ? o.runAt.getTime() : o.runAt;
    if (!isInt(at) || at < 0 || at > 8.64e15) throw new ConfigError(`${where}: runAt must be a valid Date or epoch ms, got ${show(o.runAt)}`);
    due = { at };
  }
  const key = o.key === undefined ? undefined : checkKey(`${where}: key`, o.key);
  // (set in place: `id` stays the entry's first field)
  if (given === undefined) entry.id = id = newId((entry.group as string | undefined) ?? key);
  const now = given === undefined || producer.now === undefined ? producer.now : producer.firstSubmitOf?.(id, producer.now);
  if (now !== undefined) entry.queued_at = !due ? now : 'at' in due ? due.at : now + due.delay;
  if (producer.trace) entry.trace = producer.trace;
  const dropped = jsonDrops(data);
  if (dropped) throw new InvalidTaskError(`${where}: data of task ${quote(id)} is ${dropped}, which JSON cannot carry (give JSON data, or none)`);
  let raw: string;
  let text: string | undefined;
  let inside: string | undefined;
  try {
    text = jsonText(data);
    entry.data = data === undefined ? null : text === undefined ? data : readsAsJson(text) ? JSON.stringify(text) : text;
    raw = JSON.stringify(entry);
    // (the check reads the data again: what throws then is refused as at its first reading)
    inside = jsonChangesInside(data, raw);
  } catch (e) {
    throw new InvalidTaskError(`${where}: data of task ${quote(id)} is not JSON-serialisable: ${thrownText(e)}`);
  }
  if (inside) throw new InvalidTaskError(`${where}: data of task ${quote(id)} holds ${inside} (give JSON data)`);
  // (the rest of the entry is checked above: only the data can hold one here; a string's own
  // JSON text, which the entry holds, writes one as an escaped backslash)
  if (text !== undefined ? !wellFormed(text) : jsonHasLoneSurrogate(raw)) throw new InvalidTaskError(`${where}: data of task ${quote(id)} holds a string that is not well-formed Unicode (a lone surrogate), which a worker cannot read`);
  if (jsonDeeperThan(raw)) throw new InvalidTaskError(`${where}: data of task ${quote(id)} is nested deeper than Redis decodes JSON (${MAX_JSON_DEPTH - 1} levels of arrays and objects in the data): a worker could not read it`);
  return {
    id,
    fn,
    raw,
    group: (entry.group as string | undefined) ?? '',
    priority: (entry.priority as number | undefined) ?? 0,
    manualEnd: entry.manual_end === true,
    due,
    key,
  };
}

/**
 * The string JSON writes for `v` as the entry's `data`, when it writes one: a string, a String
 * object, or what a toJSON gives (called as JSON.stringify calls it, with the key); else undefined.
 */
function jsonText(v: unknown): string | undefined {
  let x = v;
  if ((typeof x === 'object' && x !== null) || typeof x === 'bigint') {
    const toJSON = (x as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') x = (toJSON as (key: string) => unknown).call(x, 'data');
  }
  if (x instanceof String) x = String(x);
  return typeof x === 'string' ? x : undefined;
}

/** the same task submitted twice: the same entry, due alike, under the same dedupe key */
export function sameSubmission(a: Submission, b: Submission): boolean {
  const due = (s: Submission) => (s.due === undefined ? '' : 'at' in s.due ? `at ${s.due.at}` : `in ${s.due.delay}`);
  return a.raw === b.raw && a.key === b.key && due(a) === due(b);
}

/**
 * An id given as a string, as submit takes it and every call that names a task checks it (`where`
 * names the call): a lone surrogate has no UTF-8 form, so the id would name one key here and
 * another in Redis (U+FFFD's: another task's); longer than MAX_ID_BYTES, no claim takes it.
 */
export function checkIdText(where: string, id: string): void {
  if (!wellFormed(id)) throw new InvalidTaskError(`${where}: id must be well-formed Unicode (it holds a lone surrogate)`);
  // (UTF-8 takes at most 3 bytes per UTF-16 unit: a short id needs no count)
  if (id.length * 3 > MAX_ID_BYTES && Buffer.byteLength(id) > MAX_ID_BYTES) throw new InvalidTaskError(`${where}: id is ${Buffer.byteLength(id)} bytes long, over ${MAX_ID_BYTES}`);
}

/** a dedupe key as a submit takes it (`what` names it in the error) */
export function checkKey(what: string, key: unknown): string {
  if (typeof key !== 'string' || key === '' || !wellFormed(key) || Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new ConfigError(`${what} must be a non-empty string of at most ${MAX_KEY_BYTES} bytes (well-formed Unicode), got ${show(key)}`);
  }
  return key;
}

/** a whole number of ms in [min, MAX_TIMER_MS] */
function checkMs(what: string, v: unknown, min: number): number {
  if (!isInt(v) || v < min || v > MAX_TIMER_MS) throw new ConfigError(`${what} must be an integer number of ms from ${min} to ${MAX_TIMER_MS}, got ${show(v)}`);
  return v;
}

/**
 * The backoff as it travels in the entry: ms (fixed), or the object with its defaults left out.
 * `stored`: read back from Redis (a schedule's definition), where a max below the delay, which
 * earlier versions took, is read as the backoff it always behaved as (every wait the max) rather
 * than refused: refused, the schedule would never fire again.
 */
export function checkBackoff(what: string, b: unknown, stored = false): number | { type: 'fixed' | 'exponential'; delay: number; jitter?: number; max?: number } {
  if (typeof b === 'number') return checkMs(what, b, 0);
  if (!b || typeof b !== 'object' || Array.isArray(b)) throw new ConfigError(`${what} must be ms or { type: 'fixed' | 'exponential', delay, jitter?, max? }, got ${show(b)}`);
  const o = b as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!['type', 'delay', 'jitter', 'max'].includes(k)) throw new ConfigError(`${what}: unknown field "${k}" (known: type, delay, jitter, max)`);
  }
  if (o.type !== 'fixed' && o.type !== 'exponential') throw new ConfigError(`${what}.type must be 'fixed' or 'exponential', got ${show(o.type)}`);
  const out: { type: 'fixed' | 'exponential'; delay: number; jitter?: number; max?: number } = { type: o.type, delay: checkMs(`${what}.delay`, o.delay, 0) };
  if (o.jitter !== undefined) {
    if (typeof o.jitter !== 'number' || !(o.jitter >= 0 && o.jitter <= 1)) throw new ConfigError(`${what}.jitter must be a number from 0 to 1, got ${show(o.jitter)}`);
    if (o.jitter > 0) out.jitter = o.jitter;
  }
  if (o.max !== undefined) {
    out.max = checkMs(`${what}.max`, o.max, 0);
    // a cap below the first wait caps every wait: a fixed backoff of `max`, which is never what
    // `{ delay: 5000, max: 1000 }` meant (the two read the other way round)
    if (out.max < out.delay && stored) out.delay = out.max;
    else if (out.max < out.delay) throw new ConfigError(`${what}.max (${out.max} ms) is below its delay (${out.delay} ms): every wait would be max; give max >= delay`);
  }
  return out;
}

function show(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string' || typeof v === 'boolean' || v === null) return JSON.stringify(v);
  if (v === undefined) return 'undefined';
  if (v instanceof Date) return `Date(${String(v.getTime())})`;
  try {
    return (JSON.stringify(v) ?? typeof v).slice(0, 80);
  } catch {
    return typeof v;
  }
}
