/**
 * How values read from Redis are shown, by total functions. An event, a task or a dead letter is
 * whatever someone wrote there (PUBLISH, HSET, LPUSH by hand, a bug, an older version), so it
 * may be any JSON, a time out of Date's range, or nesting deeper than JSON.stringify's stack.
 * It still prints as one line (or one JSON document) and the command goes on.
 */
import type { CliIO } from './io.js';
import { escapeControls, unicodeEscape } from '../quote.js';

/** Deeper than this, a value read from Redis is shown as a marker: stringify recurses. */
const MAX_SHOWN_DEPTH = 64;

function bounded(v: unknown, depth: number): unknown {
  if (v === null || typeof v !== 'object') return typeof v === 'bigint' ? String(v) : v;
  if (depth >= MAX_SHOWN_DEPTH) return `(nested deeper than ${MAX_SHOWN_DEPTH} levels)`;
  if (Array.isArray(v)) return v.map((x) => bounded(x, depth + 1));
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, bounded(x, depth + 1)]));
}

/**
 * DEL, the C1 controls and the line separators as JSON escapes: JSON.stringify escapes C0 only,
 * and these, raw in a task's data (NEL a line break to terminals and to Python's splitlines, CSI a
 * terminal escape), broke a line of `events` or moved the cursor. They can stand only inside a
 * JSON string, where the escape is the same character: the text is the same JSON value.
 */
const escapeJsonControls = (text: string): string => text.replace(/[\u007f-\u009f\u2028\u2029]/g, unicodeEscape);

/** JSON text of anything; never throws (what stringify cannot do is cut at a bounded depth). */
export function showJson(v: unknown, indent?: number): string {
  try {
    return escapeJsonControls(JSON.stringify(v, null, indent) ?? 'null');
  } catch {
    try {
      return escapeJsonControls(JSON.stringify(bounded(v, 0), null, indent) ?? 'null');
    } catch {
      return '"(unprintable)"';
    }
  }
}

export { escapeControls, quote } from '../quote.js';

/**
 * `v` as one word a POSIX shell reads back as `v`: a hint that names a command to run must name
 * the very function, spaces and quotes included (control characters escaped, as in any line).
 */
export function shellWord(v: string): string {
  if (/^[A-Za-z0-9_./:@%+=,-]+$/.test(v)) return v;
  return `'${escapeControls(v).replace(/'/g, `'\\''`)}'`;
}

/** Any value as text for a human line: strings as they are (escaped), the rest as JSON. */
export function text(v: unknown): string {
  return typeof v === 'string' ? escapeControls(v) : showJson(v);
}

/** An ISO time for `at` (ms since epoch), or undefined when it is not one Date can show. */
export function isoTime(at: unknown): string | undefined {
  if (typeof at !== 'number') return undefined;
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** "2024-05-01 12:00:00", or "?" */
export function dateTime(at: unknown): string {
  const iso = isoTime(at);
  return iso ? iso.slice(0, iso.lastIndexOf('.')).replace('T', ' ') : '?';
}

/** "12:00:00.123", or "?" */
export function clockTime(at: unknown): string {
  const iso = isoTime(at);
  return iso ? iso.slice(iso.indexOf('T') + 1, -1) : '?';
}

export const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `12:00:00.123 <id> <event> <data>`: an event (any value) as one line */
export function eventLine(id: string, ev: unknown): string {
  if (!isObject(ev)) return `? ${escapeControls(id)} (not an event) ${showJson(ev)}`;
  const { event, data, at } = ev;
  const name = typeof event === 'string' ? escapeControls(event) : `(event name ${showJson(event)})`;
  return `${clockTime(at)} ${escapeControls(id)} ${name}${data === null || data === undefined ? '' : ` ${showJson(data)}`}`;
}

export function printJson(io: CliIO, v: unknown): void {
  io.stdout.write(showJson(v, 2) + '\n');
}
