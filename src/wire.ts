/**
 * The JSON shapes that cross Redis: task entries on the queue, control messages, events and
 * stored errors. Parsing here never throws past its caller: bad input comes back as an
 * InvalidTaskError naming what was wrong, or, for events (which are only ever read), as a
 * well-formed event.
 */
import { types } from 'node:util';
import { InvalidTaskError, NonRetryableError } from './errors.js';
import { quote } from './quote.js';
import type { ControlCommand } from '../machines/worker.js';

export interface TaskEntry {
  id: string;
  function: string;
  data?: unknown;
  manual_end?: boolean;
  /** ms per attempt (1..2^31-1): see src/attempt-timer.ts */
  timeout?: number;
  [extra: string]: unknown;
}

/** `data` as the task function sees it: a JSON string (the seed's form) is parsed. */
export function taskData(entry: { data?: unknown }): unknown {
  const d = entry.data;
  if (typeof d !== 'string') return d;
  try {
    return JSON.parse(d);
  } catch {
    return d;
  }
}

/**
 * Would taskData read this string as JSON (and so not as itself)? A producer storing text as
 * the entry's `data` stores such text as its JSON text, and other text as itself: the seed's
 * form, unchanged, the same entry an earlier version wrote (a task submitted again under its id
 * is the same submission), with nothing escaped twice. JSON text starts, after its whitespace,
 * with one of `{["-0123456789tfn`: any other text is told by its first character.
 */
export function readsAsJson(s: string): boolean {
  const c = /[^ \t\n\r]/.exec(s)?.[0];
  if (c === undefined || !'{["-0123456789tfn'.includes(c)) return false;
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

/** the longest task id, in bytes (src/lua/lib/task-id.lua says the same) */
export const MAX_ID_BYTES = 512;

/**
 * What a task id is, as src/lua/lib/task-id.lua decides it: a non-empty string of at most
 * MAX_ID_BYTES bytes, or an integer JSON carries exactly, written out in full digits.
 */
/** no lone surrogate: the string has a UTF-8 form (ES2024's String.prototype.isWellFormed, in every Node this runs on) */
export function wellFormed(s: string): boolean {
  return (s as string & { isWellFormed(): boolean }).isWellFormed();
}

export function taskId(v: unknown): string {
  if (v === undefined || v === null || v === '') throw new InvalidTaskError('task entry has no "id"');
  if (typeof v === 'string') {
    // (UTF-8 takes at most 3 bytes per UTF-16 unit: a short id needs no count)
    const bytes = v.length * 3 <= MAX_ID_BYTES ? v.length : Buffer.byteLength(v);
    if (bytes > MAX_ID_BYTES) throw new InvalidTaskError(`task id is ${bytes} bytes long, over ${MAX_ID_BYTES}`);
    if (!wellFormed(v)) throw new InvalidTaskError('task id is not valid Unicode (a lone surrogate)');
    return v;
  }
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new InvalidTaskError(`task id ${v} is not an integer JSON carries exactly (|id| <= 2^53 - 1); send such ids as strings`);
    return String(v);
  }
  throw new InvalidTaskError('task id must be a string or an integer');
}

export function parseEntry(raw: string): TaskEntry {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new InvalidTaskError(`task entry is not JSON: ${raw.slice(0, 80)}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new InvalidTaskError('task entry is not a JSON object');
  const o = v as Record<string, unknown>;
  o.id = taskId(o.id);
  if (typeof o.function !== 'string' || o.function === '') throw new InvalidTaskError(`task ${quote(o.id)} has no "function"`);
  return o as TaskEntry;
}

/** A control message: `stop`, `reload`, or JSON `{"event_name": "...", "event": ...}`. */
export function parseControl(message: string): ControlCommand {
  const text = message.trim();
  if (text === 'stop' || text === 'reload') return { command: text };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new InvalidTaskError(`control message is neither "stop", "reload" nor JSON: ${text.slice(0, 80)}`);
  }
  if (v === 'stop' || v === 'reload') return { command: v };
  if (!v || typeof v !== 'object' || Array.isArray(v)) {
    throw new InvalidTaskError(`control message must be "stop", "reload" or {"event_name", "event"}, got ${text.slice(0, 80)}`);
  }
  const o = v as Record<string, unknown>;
  if (typeof o.event_name !== 'string' || o.event_name === '') {
    throw new InvalidTaskError(`control message has no "event_name" string: ${text.slice(0, 80)}`);
  }
  return { command: 'event', name: o.event_name, payload: o.event };
}

/**
 * The control message that asks the worker running a task to publish its task machine's state
 * (`state` events) for WATCH_TTL ms: taken by the worker's runtime itself, never a command of the
 * task machine nor an event for the task's function.
 */
export const WATCH_CONTROL = 'watch';
/** how long one `watch` keeps a task's state published (a watcher asks again before it lapses) */
export const WATCH_TTL = 30_000;

/** the control messages that are a plain word (every other one is a custom event, as JSON) */
export const PLAIN_CONTROLS = ['stop', 'reload', WATCH_CONTROL] as const;
export type PlainControl = (typeof PLAIN_CONTROLS)[number];
export const isPlainControl = (c: unknown): c is PlainControl => (PLAIN_CONTROLS as readonly unknown[]).includes(c);

export type ControlInput = PlainControl | { event_name: string; event?: unknown };

/**
 * What a value JSON leaves out entirely is, if not undefined (no data): a function or a Symbol;
 * or writes as null: NaN or an infinity. JSON.stringify does either without an error, so the
 * data would vanish on the way; a BigInt or a cycle it refuses, which its callers catch. (Only
 * the value itself is looked at: one inside an object or an array is JSON's to write.)
 */
export function jsonDrops(v: unknown): string | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : `the number ${v}`;
  return typeof v === 'function' ? 'a function' : typeof v === 'symbol' ? 'a Symbol' : undefined;
}

/**
 * What a toJSON or a getter threw while a value was made JSON, for a message: its `message`, or
 * the value itself as text (undefined, null, a string); a fixed text when neither can be read.
 */
export function thrownText(e: unknown): string {
  try {
    return String(e !== null && typeof e === 'object' && 'message' in e ? (e as Error).message : e);
  } catch {
    return 'a value that cannot be read was thrown';
  }
}

/**
 * What JSON.stringify changes without an error inside `v`, so the value would arrive as other
 * than it was: what it is, the key or index that holds it, and what JSON would write for it;
 * undefined when there is none. `json` is a text that holds v's JSON (its own, or that of the
 * entry or message it is written into). Found: a number JSON writes as null (NaN or an
 * infinity), a function or a Symbol inside an array (written as null), a Map or a Set with
 * entries (written as `{}`), and what a task function returns by a slip: a Promise not awaited,
 * a generator object (written as `{}`, their content lost). (Not an Error inside a value: one
 * with fields of its own, as Node's socket errors have, leaves no trace the walk starts on, and a
 * result holding one would be refused or not by what else it holds; resultJson refuses an Error
 * returned whole.) Kept as JSON writes it, not found: undefined inside an array (null)
 * or as an object's value (left out), and a function or a Symbol as an object's value (left
 * out): these leave no trace in the text, and an optional field set to undefined is common. The
 * walk goes where JSON.stringify goes (a toJSON applied as it applies it, with its key; an
 * array's indexes up to its length; an object's own enumerable string keys, in their order) and
 * runs only when the text holds a `null` or a `{}`, the only traces of what it finds: typical
 * data is not walked. It is a walk of its own, not JSON.stringify's with a replacer, which built
 * the whole text again to look (what each costs: docs/benchmarks.md, thirty-eighth session), and
 * ran out of stack at about half the depth the plain stringify reaches; this one reaches it.
 * test/json-changes-inside.test.ts checks it against JSON.stringify's own walk.
 */
export function jsonChangesInside(v: unknown, json: string): string | undefined {
  if (!json.includes('null') && !json.includes('{}')) return undefined;
  return changedInside(v, '', false);
}

/** the first thing JSON.stringify would change without an error in `x`, held at key `k` (of an array: `inArray`) */
function changedInside(x: unknown, k: string, inArray: boolean): string | undefined {
  if ((typeof x === 'object' && x !== null) || typeof x === 'bigint') {
    const toJSON = (x as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') x = (toJSON as (key: string) => unknown).call(x, k);
  }
  if (typeof x === 'number') return Number.isFinite(x) ? undefined : `the number ${x}${at(k)}, which JSON would write as null`;
  if (typeof x === 'function' || typeof x === 'symbol') return inArray ? `${typeof x === 'function' ? 'a function' : 'a Symbol'}${at(k)} inside an array, which JSON would write as null` : undefined;
  if (typeof x !== 'object' || x === null) return undefined;
  if (x instanceof Map && x.size > 0) return `a Map with entries${at(k)}, which JSON would write as {}`;
  if (x instanceof Set && x.size > 0) return `a Set with members${at(k)}, which JSON would write as {}`;
  // (what a task function returns by a slip, and JSON writes as {}: its task succeeded, work undone)
  if (types.isPromise(x)) return `a Promise${at(k)} (not awaited: a missing await, or Promise.all?), which JSON would write as {}`;
  if (types.isGeneratorObject(x)) return `a generator object${at(k)} (a task function is an async function, not a generator), which JSON would write as {}`;
  if (Array.isArray(x)) {
    const n = x.length;
    for (let i = 0; i < n; i++) {
      const found = changedInside(x[i], String(i), true);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const key of Object.keys(x)) {
    const found = changedInside((x as Record<string, unknown>)[key], key, false);
    if (found !== undefined) return found;
  }
  return undefined;
}

const at = (k: string) => (k === '' ? '' : ` (at ${quote(k)})`);

/**
 * Does this JSON (JSON.stringify's: it writes a lone surrogate as a `\\udXXX` escape and a
 * pair as itself) hold a lone surrogate? Redis's cjson refuses one, so an entry that holds one
 * could never be read by a claim. A look for the escape first: one indexOf where there is none.
 */
export function jsonHasLoneSurrogate(json: string): boolean {
  // (an escape whose backslash is not itself escaped: an even run of backslashes before it)
  return json.includes('\\ud') && /(?<!\\)(?:\\\\)*\\u[dD][89a-fA-F][0-9a-fA-F]{2}/.test(json);
}

/** the most levels of arrays and objects Redis's cjson decodes (its decode_max_depth) */
export const MAX_JSON_DEPTH = 1000;

/**
 * Is this JSON nested deeper than `max` levels of arrays and objects? cjson refuses such an
 * entry (JSON.stringify writes it, JSON.parse reads it), so a claim could never read it. Text
 * shorter than 2 * max holds too few brackets to be: one length test for a typical entry.
 */
export function jsonDeeperThan(json: string, max = MAX_JSON_DEPTH): boolean {
  if (json.length <= 2 * max) return false;
  let depth = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22) {
      // a string: skip to its closing quote, over escapes
      for (i++; i < json.length; i++) {
        const d = json.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

export function formatControl(c: ControlInput): string {
  if (isPlainControl(c)) return c;
  if (c && typeof c === 'object' && typeof c.event_name === 'string' && c.event_name !== '') {
    // (a key it does not know is usually a typo, `evnt`: the message would go out without its event)
    for (const k of Object.keys(c)) if (k !== 'event_name' && k !== 'event') throw new InvalidTaskError(`control "${c.event_name}": unknown key ${quote(k)} (known: event_name, event)`);
    const dropped = jsonDrops(c.event);
    if (dropped) throw new InvalidTaskError(`control "${c.event_name}": its event is ${dropped}, which JSON cannot carry`);
    let json: string;
    let inside: string | undefined;
    try {
      json = JSON.stringify({ event_name: c.event_name, event: c.event });
      // (the check reads the value again: what throws then is refused as at its first reading)
      inside = jsonChangesInside(c.event, json);
    } catch (e) {
      throw new InvalidTaskError(`control "${c.event_name}": its event is not JSON-serialisable: ${thrownText(e)}`);
    }
    if (inside) throw new InvalidTaskError(`control "${c.event_name}": its event holds ${inside}`);
    return json;
  }
  throw new InvalidTaskError(`control must be "stop", "reload", "watch" or {event_name, event}, got ${shownControl(c)}`);
}

/** the refused message as its refusal shows it: JSON where JSON can write it (a BigInt, a cycle it cannot) */
function shownControl(c: unknown): string {
  try {
    const json = JSON.stringify(c);
    if (json !== undefined) return json;
  } catch {
    // (said by its kind below)
  }
  const kind = typeof c;
  return kind === 'undefined' ? 'undefined' : kind === 'object' ? 'an object JSON cannot write' : `a ${kind}`;
}

export interface TaskEvent {
  event: string;
  data: unknown;
  /** ms since epoch; always a time a Date can hold */
  at: number;
}

/**
 * Event names only the runtime publishes. A task's `emit` refuses them, so a subscriber can
 * take `end` (and the others) as the runtime's word, not a task's: `end` is the last event of a
 * task, published with its END write; `requeued` by a monitor or a handing-back worker;
 * `control-error` for a control message the worker could not act on; `retrying` for a retry;
 * `machine-state` for the task machine's state while someone watches it (WATCH_CONTROL).
 */
export const RESERVED_EVENTS: ReadonlySet<string> = new Set(['end', 'requeued', 'control-error', 'retrying', 'machine-state']);

/** the runtime's event with a watched task machine's state: data `{id, value}` (an xstate state value) */
export const STATE_EVENT = 'machine-state';

/** The name a task may emit under; an InvalidTaskError naming it otherwise (a programmer error). */
export function checkEventName(event: unknown): string {
  if (typeof event !== 'string' || event === '') {
    throw new InvalidTaskError(`task.emit: the event name must be a non-empty string, got ${describeValue(event)}`);
  }
  if (RESERVED_EVENTS.has(event)) {
    throw new InvalidTaskError(`task.emit: "${event}" is reserved for the runtime (reserved: ${[...RESERVED_EVENTS].join(', ')}); give the event another name`);
  }
  return event;
}

/**
 * What `task.on` is given: a listener that is no function would throw at each event of its name
 * (reported by the worker as the listener's own failure), and a name that is no string would be
 * heard by none; both are said in the task function's own call.
 */
export function checkListener(name: unknown, handler: unknown): string {
  if (typeof name !== 'string' || name === '') throw new InvalidTaskError(`task.on: the event name must be a non-empty string, got ${describeValue(name)}`);
  if (typeof handler !== 'function') throw new InvalidTaskError(`task.on(${quote(name)}): the handler must be a function, got ${describeValue(handler)}`);
  return name;
}

export function formatEvent(event: string, data: unknown, at = Date.now()): string {
  const dropped = jsonDrops(data);
  if (dropped) throw new InvalidTaskError(`event "${event}": data is ${dropped}, which JSON cannot carry`);
  let json: string;
  let inside: string | undefined;
  try {
    json = JSON.stringify({ event, data: data === undefined ? null : data, at });
    // (the check reads the value again: what throws then is refused as at its first reading)
    inside = jsonChangesInside(data, json);
  } catch (e) {
    throw new InvalidTaskError(`event "${event}": data is not JSON-serialisable: ${thrownText(e)}`);
  }
  if (inside) throw new InvalidTaskError(`event "${event}": data holds ${inside}`);
  return json;
}

/**
 * The largest event kept whole as a task's last event (the hash's `last_event`): a larger one is
 * kept as its name and time, without its data, so the field stays small whatever a task emits.
 */
export const LAST_EVENT_MAX = 1024;

/** A task's last event, as its hash keeps it (`last_event`); `data` only when it was small enough. */
export interface LastEvent {
  event: string;
  at: number;
  data?: unknown;
}

/**
 * What emit.lua is told to keep of an event as the task's last: '=' the message itself (small
 * enough), or its name and time; '' keeps nothing (the runtime's `machine-state` events: they say what
 * the worker runs, not what the task did).
 */
export function lastEventArg(event: string, message: string, at: number): string {
  if (event === STATE_EVENT) return '';
  if (message.length <= LAST_EVENT_MAX) return '=';
  // (a name is not bounded where a task emits it: cut, or the field grows with it)
  return JSON.stringify({ event: event.length > LAST_EVENT_NAME_MAX ? `${event.slice(0, LAST_EVENT_NAME_MAX)}…` : event, at });
}

/** the longest event name kept whole in `last_event` (JSON escapes may grow it up to six times, under LAST_EVENT_MAX) */
const LAST_EVENT_NAME_MAX = 128;

/**
 * A task's last event from its hash: an ended task's is its `end` (at its end time), which the
 * scripts that end a task do not write into `last_event` (one HSET less on every task's path:
 * its state and end time say it already); any other's is `last_event`.
 */
export function lastEventOf(state: string | null | undefined, end: number | undefined, raw: string | null | undefined): LastEvent | undefined {
  if (state === 'END' && end !== undefined) return { event: 'end', at: end };
  return parseLastEvent(raw);
}

/** a hash's `last_event` as a LastEvent, or undefined when it is not one (edited by hand) */
export function parseLastEvent(raw: string | null | undefined): LastEvent | undefined {
  if (!raw) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.event !== 'string' || typeof o.at !== 'number' || !Number.isFinite(o.at)) return undefined;
  const out: LastEvent = { event: o.event, at: o.at };
  if ('data' in o) out.data = o.data;
  return out;
}

/** The largest |ms since epoch| a Date holds (ECMA-262 time range). */
const MAX_TIME = 8.64e15;

/**
 * Any message on a task's events channel as a well-formed event; never throws. A JSON object
 * with a non-empty string `event` keeps its name and `data` (null when absent); its `at` is kept
 * when it is a time a Date can hold, else it becomes the time of receipt (the seed's events
 * carry only `event` and `data`). Anything else (not JSON, not an object, no usable name) comes
 * back as `{event: 'raw', data: <the message text>, at: <now>}`.
 */
export function parseEvent(message: unknown): TaskEvent {
  const text = typeof message === 'string' ? message : Buffer.isBuffer(message) ? message.toString('utf8') : String(message);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { event: 'raw', data: text, at: Date.now() };
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return { event: 'raw', data: text, at: Date.now() };
  const o = v as Record<string, unknown>;
  if (typeof o.event !== 'string' || o.event === '') return { event: 'raw', data: text, at: Date.now() };
  const at = typeof o.at === 'number' && Number.isFinite(o.at) && Math.abs(o.at) <= MAX_TIME ? o.at : Date.now();
  return { event: o.event, data: o.data === undefined ? null : o.data, at };
}

/** how a task ended; `cancelled`: removed while queued or delayed (Client.cancel), never run again */
export type TaskOutcomeName = 'succeeded' | 'failed' | 'stopped' | 'cancelled';
const OUTCOMES: ReadonlySet<string> = new Set<TaskOutcomeName>(['succeeded', 'failed', 'stopped', 'cancelled']);
export function isOutcome(v: unknown): v is TaskOutcomeName {
  return typeof v === 'string' && OUTCOMES.has(v);
}

/** What the runtime's `end` event says about how a task ended (finish.lua, requeue.lua). */
export interface EndEventData {
  id: string;
  outcome: TaskOutcomeName;
  result?: unknown;
  error?: StoredError;
  /** the reason a parked task was parked */
  parked?: string;
  /** the key of a parked task's dead letter */
  dead?: string;
  /** the attempt that ended, and its worker (an END a worker wrote) */
  attempt?: number;
  worker?: string;
}

/**
 * The runtime's `end` event for task `id`, or undefined when `ev` is not one: the name `end`,
 * `data` an object naming this task and a known outcome. Only a hint still: anyone who can
 * PUBLISH can send this shape, so a reader trusts the task's hash over it while the hash exists.
 */
export function parseEndEvent(ev: TaskEvent, id: string): EndEventData | undefined {
  if (ev.event !== 'end' || ev.data === null || typeof ev.data !== 'object' || Array.isArray(ev.data)) return undefined;
  const d = ev.data as Record<string, unknown>;
  if (d.id !== id || !isOutcome(d.outcome)) return undefined;
  const out: EndEventData = { id, outcome: d.outcome };
  if ('result' in d) out.result = d.result;
  if (isStoredError(d.error)) out.error = d.error;
  if (typeof d.parked === 'string') out.parked = d.parked;
  if (typeof d.dead === 'string') out.dead = d.dead;
  if (typeof d.attempt === 'number' && Number.isInteger(d.attempt) && d.attempt >= 0) out.attempt = d.attempt;
  if (typeof d.worker === 'string' && d.worker !== '') out.worker = d.worker;
  return out;
}

export interface StoredError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

export function isStoredError(v: unknown): v is StoredError {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const e = v as Record<string, unknown>;
  return (
    typeof e.name === 'string' &&
    typeof e.message === 'string' &&
    (e.code === undefined || typeof e.code === 'string') &&
    (e.stack === undefined || typeof e.stack === 'string')
  );
}

function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || v === undefined || typeof v !== 'object') return String(v);
  return Array.isArray(v) ? 'an array' : 'an object';
}

/**
 * What a task's failure is stored as. Total: whatever a task function threw (a value whose
 * fields throw when read, a revoked Proxy, a `message` that is not a string) gives a StoredError
 * of strings, so that the END that carries it can always be written. Bounded: each of its
 * fields is at most MAX_ERROR_FIELD_BYTES (boundedText), so a function that throws a 50 MB
 * message does not write it to Redis (in the hash, its history and its end event), twice with
 * the stack that repeats it. `max`: MAX_RETRIED_ERROR_FIELD_BYTES for an attempt that is retried.
 */
export function serializeError(e: unknown, max = MAX_ERROR_FIELD_BYTES): StoredError {
  const out = serializeUnbounded(e);
  const bounded: StoredError = { name: boundedText(out.name, max), message: boundedText(out.message, max) };
  if (out.code !== undefined) bounded.code = boundedText(out.code, max);
  if (out.stack !== undefined) bounded.stack = boundedText(out.stack, max);
  return bounded;
}

/** the most UTF-8 bytes a stored error's field (name, message, code, stack) holds, its cut mark included */
export const MAX_ERROR_FIELD_BYTES = 64 * 1024;

/**
 * The same for the failure of an attempt that is retried (its `retrying` event, and the record
 * of the attempt its task's history keeps for good): a task of up to 1000 attempts appends one
 * to its history at each, and every END of it rewrites the whole history in Redis (a Lua step
 * that blocks it). At 64 KiB a field, 100 attempts of a function that threw a long message made
 * a 13 MB history, each END a step of some 0.3 s, 37 s of Redis's time in all; at this, under
 * 1 MB, 1.7 s in all. The failure that ends the task keeps MAX_ERROR_FIELD_BYTES.
 */
export const MAX_RETRIED_ERROR_FIELD_BYTES = 4 * 1024;

/**
 * `text` when it is at most `max` UTF-8 bytes; else its start, cut at a character's boundary,
 * and a mark saying how much was cut, together at most `max` bytes. (Its length alone says so
 * for all but long texts: a UTF-16 unit is 3 bytes at most.) Well-formed: a lone surrogate is
 * U+FFFD.
 */
export function boundedText(given: string, max = MAX_ERROR_FIELD_BYTES): string {
  // (a lone surrogate as U+FFFD, as its UTF-8 is: JSON.stringify writes it as a `\ud800`
  // escape, which Redis's cjson refuses, and the history that held one was read as junk at the
  // next retry and begun again, every attempt before it lost)
  const text = wellFormed(given) ? given : (given as string & { toWellFormed(): string }).toWellFormed();
  if (text.length * 3 <= max) return text;
  const total = Buffer.byteLength(text, 'utf8');
  if (total <= max) return text;
  const mark = (cut: number) => ` … [cut: ${cut} more bytes, of ${total}]`;
  // (the mark's longest form: the cut is at most the total)
  const room = max - Buffer.byteLength(mark(total), 'utf8');
  let end = Math.min(text.length, room);
  for (let bytes = Buffer.byteLength(text.slice(0, end), 'utf8'); bytes > room; bytes = Buffer.byteLength(text.slice(0, end), 'utf8')) {
    end -= Math.ceil((bytes - room) / 3);
  }
  // (not between the halves of a surrogate pair)
  const unit = text.charCodeAt(end - 1);
  if (end > 0 && unit >= 0xd800 && unit <= 0xdbff) end--;
  const kept = text.slice(0, end);
  return `${kept}${mark(total - Buffer.byteLength(kept, 'utf8'))}`;
}

function serializeUnbounded(e: unknown): StoredError {
  try {
    // (an Error made in another realm, a vm context or a test environment, fails instanceof but
    // carries the brand: JSON would store it as {})
    if (e instanceof Error || isNativeError(e)) {
      // (each field read on its own: one whose getter throws, a `name` say, is that field
      // unreadable, not the whole error and its message with it)
      const err = e as Record<'name' | 'message' | 'code' | 'stack', unknown>;
      const name = fieldText(err, 'name');
      const message = fieldText(err, 'message');
      const out: StoredError = { name: name ?? 'Error', message: message === null ? UNREADABLE : (message ?? '') };
      const code = fieldOf(err, 'code');
      if (typeof code === 'string') out.code = code;
      const stack = fieldText(err, 'stack');
      if (stack) out.stack = stack;
      return out;
    }
    // An object that says what it is in its own toString is stored as those words: its JSON
    // drops the method and may say nothing at all ({}).
    const own = ownText(e);
    if (own !== undefined) return { name: 'Error', message: own };
    // (as its own text: JSON wrote undefined and a Symbol as "null", and a cycle as "[object Object]" in quotes)
    return errorLike(e) ?? { name: 'Error', message: typeof e === 'string' ? e : typeof e === 'function' ? 'a function' : quote(e) };
  } catch {
    return { name: 'Error', message: UNREADABLE };
  }
}

const UNREADABLE = 'the task function gave a value that cannot be read';

/**
 * An object JSON cannot write (a cycle: an error-like object holding its request, its socket)
 * that says its message in a string field: that message, with its name and code, where it was
 * stored only as "an object JSON cannot write". (One JSON can write is stored as its JSON, every
 * field kept.)
 */
function errorLike(e: unknown): StoredError | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const o = e as Record<'name' | 'message' | 'code', unknown>;
  const message = fieldOf(o, 'message');
  if (typeof message !== 'string') return undefined;
  try {
    JSON.stringify(e);
    return undefined;
  } catch {
    const name = fieldOf(o, 'name');
    const code = fieldOf(o, 'code');
    return { name: typeof name === 'string' && name !== '' ? name : 'Error', message, ...(typeof code === 'string' ? { code } : {}) };
  }
}

/** a field of a thrown value, or undefined when reading it throws */
function fieldOf<K extends string>(o: Record<K, unknown>, k: K): unknown {
  try {
    return o[k];
  } catch {
    return undefined;
  }
}

/** a field of a thrown value as text: undefined when absent, null when reading or writing it throws */
function fieldText<K extends string>(o: Record<K, unknown>, k: K): string | null | undefined {
  try {
    const v = o[k];
    return v === undefined ? undefined : String(v);
  } catch {
    return null;
  }
}

/**
 * An Error of any realm, by its brand (the [[ErrorData]] slot): not Object.prototype.toString's
 * '[object Error]', which any object can claim with Symbol.toStringTag (and a Proxy's get trap
 * answers), nor missed for an Error whose class names itself otherwise.
 */
function isNativeError(e: unknown): boolean {
  const isError = (Error as { isError?: (v: unknown) => boolean }).isError;
  return typeof isError === 'function' ? isError(e) : types.isNativeError(e);
}

/**
 * What a thrown object's toString says, when the object (or its class) gave itself one; not the
 * built-in ones of plain objects, arrays and dates, whose JSON says more. A toString that
 * throws or gives no string is passed over, and so is one that says no more than
 * Object.prototype.toString ("[object Object]"): another realm's (a vm context's, a test
 * environment's) is not this realm's, and its dates are told by their brand.
 */
function ownText(e: unknown): string | undefined {
  if (e === null || typeof e !== 'object' || Array.isArray(e) || types.isDate(e)) return undefined;
  try {
    const toString = (e as { toString?: unknown }).toString;
    if (typeof toString !== 'function' || toString === Object.prototype.toString) return undefined;
    const text: unknown = toString.call(e);
    if (typeof text !== 'string' || text === Object.prototype.toString.call(e)) return undefined;
    return text;
  } catch {
    return undefined;
  }
}

/**
 * The JSON of what a task function returned, as its END stores it (undefined: null). A value
 * JSON cannot carry (a BigInt, a cycle, a toJSON that throws, a function or a Symbol, which
 * JSON would drop) is the function's bug, and the same data would give it again: a
 * NonRetryableError saying why, and the attempt fails with it, rather than succeeding with
 * the value's String() form (`[object Object]`) where a caller expects the result.
 */
export function resultJson(v: unknown): string {
  if (v === undefined) return 'null';
  // (returned where it was meant to be thrown: written as {} or as its fields, its message lost)
  if ((types.isNativeError(v) || v instanceof Error) && typeof (v as { toJSON?: unknown }).toJSON !== 'function') {
    let what: string;
    try {
      what = `${String((v as Error).name)}: ${String((v as Error).message)}`.slice(0, 200);
    } catch {
      what = UNREADABLE;
    }
    throw new NonRetryableError(`the task function returned an Error (${what}) rather than throwing it: throw it, to fail the task`);
  }
  const dropped = jsonDrops(v);
  if (dropped) throw new NonRetryableError(`the task function returned ${dropped}, which JSON cannot carry: its result cannot be stored`);
  let json: string | undefined;
  let inside: string | undefined;
  try {
    json = JSON.stringify(v) as string | undefined;
    // (the check reads the value again: what throws then is refused as at its first reading)
    if (json !== undefined) inside = jsonChangesInside(v, json);
  } catch (e) {
    let why: string;
    try {
      why = String((e as Error).message);
    } catch {
      why = UNREADABLE;
    }
    throw new NonRetryableError(`the task function returned a result JSON cannot carry (${why}): its result cannot be stored`);
  }
  // (a toJSON that gives undefined, a function or a Symbol: JSON leaves the whole value out)
  if (json === undefined) throw new NonRetryableError('the task function returned a value whose JSON is nothing (its toJSON gave undefined, a function or a Symbol): its result cannot be stored');
  if (inside) throw new NonRetryableError(`the task function returned a value that holds ${inside}: its result cannot be stored`);
  return json;
}

/**
 * JSON of a value thrown as a task's error (and of a result not made JSON as it was returned):
 * a value JSON cannot carry is stored as its string form, and one that has none either (a
 * null-prototype object holding a BigInt, a revoked Proxy) as a fixed string. An error must
 * always be storable, or the END that carries it could not be written.
 */
export function safeJson(v: unknown): string {
  try {
    const s = JSON.stringify(v === undefined ? null : v);
    return s === undefined ? 'null' : s;
  } catch {
    try {
      return JSON.stringify(String(v));
    } catch {
      return JSON.stringify(UNREADABLE);
    }
  }
}
