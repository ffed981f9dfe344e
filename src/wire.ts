/**
 * The JSON shapes that cross Redis: task entries on the queue, control messages, events and
 * stored errors. Parsing here never throws past its caller: bad input comes back as an
 * InvalidTaskError naming what was wrong.
 */
import { InvalidTaskError } from './errors.js';
import type { ControlCommand } from '../machines/worker.js';

export interface TaskEntry {
  id: string;
  function: string;
  data?: unknown;
  manual_end?: boolean;
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

/** the longest task id, in bytes (src/lua/lib/task-id.lua says the same) */
export const MAX_ID_BYTES = 512;

/**
 * What a task id is, as src/lua/lib/task-id.lua decides it: a non-empty string of at most
 * MAX_ID_BYTES bytes, or an integer JSON carries exactly, written out in full digits.
 */
export function taskId(v: unknown): string {
  if (v === undefined || v === null || v === '') throw new InvalidTaskError('task entry has no "id"');
  if (typeof v === 'string') {
    const bytes = Buffer.byteLength(v);
    if (bytes > MAX_ID_BYTES) throw new InvalidTaskError(`task id is ${bytes} bytes long, over ${MAX_ID_BYTES}`);
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
  if (typeof o.function !== 'string' || o.function === '') throw new InvalidTaskError(`task "${o.id}" has no "function"`);
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

export type ControlInput = 'stop' | 'reload' | { event_name: string; event?: unknown };

export function formatControl(c: ControlInput): string {
  if (c === 'stop' || c === 'reload') return c;
  if (c && typeof c === 'object' && typeof c.event_name === 'string' && c.event_name !== '') {
    return JSON.stringify({ event_name: c.event_name, event: c.event });
  }
  throw new InvalidTaskError(`control must be "stop", "reload" or {event_name, event}, got ${JSON.stringify(c)}`);
}

export interface TaskEvent {
  event: string;
  data: unknown;
  at: number;
}

export function formatEvent(event: string, data: unknown): string {
  return JSON.stringify({ event, data: data === undefined ? null : data, at: Date.now() });
}

export interface StoredError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

export function serializeError(e: unknown): StoredError {
  if (e instanceof Error) {
    const out: StoredError = { name: e.name, message: e.message };
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') out.code = code;
    if (e.stack) out.stack = e.stack;
    return out;
  }
  return { name: 'Error', message: typeof e === 'string' ? e : safeJson(e) };
}

/** JSON of a task result; a value JSON cannot carry is stored as its string form. */
export function safeJson(v: unknown): string {
  try {
    const s = JSON.stringify(v === undefined ? null : v);
    return s === undefined ? 'null' : s;
  } catch {
    return JSON.stringify(String(v));
  }
}
