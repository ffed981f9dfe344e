/**
 * What the user typed, read as what it stands for: integers in bounds, times, backoffs, rates,
 * JSON. A value that is not one is a UsageError naming the flag (or argument) and the value.
 */
import type { BackoffOption } from '../submission.js';
import { UsageError } from './errors.js';
import { jsonDeeperThan, MAX_JSON_DEPTH } from '../wire.js';
import { LIMIT_MAX } from '../effects/limits.js';
import { escapeControls, quote } from './format.js';

/** Node timers hold at most 2^31-1 ms; a longer one fires at once (with a multi-line warning). */
export const MAX_TIMEOUT = 2 ** 31 - 1;

/** the time units a user may write, in ms (`--rate`'s window takes ms, s, m and h) */
const MS_PER_UNIT: Record<string, number> = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * For a flag in ms given a time with a unit (`--delay 5m`, `--every 10s`): the same time in ms,
 * the value the user meant; empty for anything else.
 */
function msHint(raw: string): string {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h|d)\s*$/i.exec(raw);
  if (!m) return '';
  const unit = MS_PER_UNIT[m[2]!.toLowerCase()] ?? 1;
  const ms = Number(m[1]) * unit;
  return Number.isSafeInteger(ms) ? `: a number of ms (${raw.trim()} is ${ms})` : '';
}

/**
 * The one form an integer takes on the command line, for every flag (and argument) that is a
 * number: decimal digits, a "-" before a negative one, nothing else: no space around it (`' 5'`,
 * as a quoted variable gives), no "+", no leading zero (`010`, which some read as octal), no
 * `-0`. Anything else is refused, named, never read as the number it resembles.
 */
const INTEGER = /^(0|-?[1-9]\d*)$/;

/** whether `raw` is an integer as the command line writes one (INTEGER) */
export const isPlainInteger = (raw: string): boolean => INTEGER.test(raw);

/** For an integer written loosely (`' 5'`, `+5`, `007`, `-0`): how to write it; empty for anything else. */
function plainHint(raw: string): string {
  const t = raw.trim();
  if (INTEGER.test(raw)) return '';
  // (an exponent, as one writes a large ms value, 1e3: the integer it stands for, when it is one)
  if (/^-?\d+(?:\.\d+)?e\+?\d+$/i.test(t)) return Number.isSafeInteger(Number(t)) ? `: write ${Number(t)}, without an exponent` : '';
  if (!/^[+-]?\d+$/.test(t)) return '';
  // (named: what it holds that the rule does not take)
  const what = [t !== raw ? 'spaces' : '', t.startsWith('+') ? 'a "+"' : '', /^[+-]?0\d/.test(t) ? 'leading zeros' : '', /^-0+$/.test(t) ? 'a "-" on 0' : ''].filter(Boolean);
  return `: write ${BigInt(t).toString()}, without ${what.join(' or ')}`;
}

/** An integer flag; `inMs`: its value is ms, and a time given with a unit is told in ms. */
export function parseInteger(name: string, raw: string, min = 0, max = Number.MAX_SAFE_INTEGER, inMs = false): number {
  if (!INTEGER.test(raw)) throw new UsageError(`${name} must be an integer, got ${quote(raw)}${plainHint(raw) || (inMs ? msHint(raw) : '')}`);
  const n = Number(raw);
  if (n < min) throw new UsageError(`${name} must be an integer >= ${min}, got ${quote(raw)}`);
  // (past the safe integers, the bound it breaks is the upper one: "--every must be an integer
  // >= 1" said of 99999999999999999999 named a bound the value keeps)
  if (n > max || !Number.isSafeInteger(n)) throw new UsageError(`${name} must be an integer <= ${max}, got ${quote(raw)}`);
  return n;
}

/** `--backoff`: ms (fixed), or exponential:ms[:max] */
export function parseBackoff(raw: string): BackoffOption {
  // (its integers as every flag's: exponential:05 is refused by parseInteger, naming the part)
  const m = /^exponential:(\d+)(?::(\d+))?$/.exec(raw);
  if (m) {
    const delay = parseInteger('--backoff delay', m[1]!, 0, MAX_TIMEOUT);
    if (m[2] === undefined) return { type: 'exponential', delay };
    const max = parseInteger('--backoff max', m[2], 0, MAX_TIMEOUT);
    if (max < delay) throw new UsageError(`--backoff ${quote(raw)}: its max (${max} ms) is below its delay (${delay} ms), so every wait would be the max; write exponential:delay:max with max >= delay`);
    return { type: 'exponential', delay, max };
  }
  if (/^\s*[+-]?\d+\s*$/.test(raw)) return parseInteger('--backoff', raw, 0, MAX_TIMEOUT);
  // (in ms, as --delay and --timeout: a time with a unit, 5s, is told in ms)
  throw new UsageError(`--backoff must be ms (fixed) or exponential:ms[:max], got ${quote(raw)}${plainHint(raw) || msHint(raw)}`);
}

/** `--run-at`: ISO 8601 or epoch ms */
export function parseRunAt(raw: string): number {
  // (not trimmed: epoch ms is an integer as every flag's, ' 5' refused, and an ISO time is read as written)
  const text = raw;
  // (Date.parse reads far more than ISO 8601, each in its own way: "-5" as May 2001, "5 May" as
  // the 5th of May 2001 in the local zone; a mistake would run the task now)
  const t = INTEGER.test(text) ? Number(text) : ISO_TIME.test(text) ? Date.parse(text) : NaN;
  if (!Number.isSafeInteger(t) || t < 0) throw new UsageError(`--run-at must be an ISO 8601 time or epoch ms, got ${quote(raw)}${plainHint(raw)}`);
  // (past the last time a Date holds, epoch ms passed here and was refused by the library as
  // "submit: runAt must be a valid Date or epoch ms", naming no flag)
  if (t > MAX_DATE_MS) throw new UsageError(`--run-at must be at most ${MAX_DATE_MS} epoch ms (${new Date(MAX_DATE_MS).toISOString()}, the last time a date holds), got ${quote(raw)}`);
  return t;
}

/** the last time an ECMAScript Date holds, in epoch ms (+275760-09-13T00:00:00.000Z) */
const MAX_DATE_MS = 8.64e15;

/** the date-time forms of ECMAScript's Date.parse (ISO 8601's), a space taken for the T */
const ISO_TIME = /^(?:[+-]\d{6}|\d{4})(?:-\d{2}(?:-\d{2})?)?(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?$/i;

/** `100/1000`, `100/1s`, `5/1m`: max starts per window */
export function parseRate(raw: string): { max: number; per: number } {
  // (a unit alone is one of it: "100/s", as one says a hundred a second)
  // (its numbers as every flag's integers: no spaces, no leading zeros)
  const m = /^(0|[1-9]\d*)\/(0|[1-9]\d*)?(ms|s|m|h)?$/.exec(raw);
  if (!m || (m[2] === undefined && m[3] === undefined)) throw new UsageError(`--rate must be max/ms, e.g. 100/1000 (or with a unit: 100/1s, 100/1m, 100/1h), got ${quote(raw)}`);
  const per = Number(m[2] ?? 1) * (MS_PER_UNIT[m[3] ?? 'ms'] ?? 1);
  const max = Number(m[1]);
  // (said here, of the option: the library's own refusal names its field, rate.max)
  if (max < 1 || max > LIMIT_MAX) throw new UsageError(`--rate: max starts must be from 1 to ${LIMIT_MAX}, got ${quote(raw)}`);
  if (per < 1 || per > LIMIT_MAX) throw new UsageError(`--rate: the window must be from 1 to ${LIMIT_MAX} ms, got ${quote(raw)}`);
  return { max, per };
}

/** `--redis-durable`: replicas, or true and false as the library takes them (one replica, none) */
export function parseDurable(raw: string): number {
  return raw === 'true' ? 1 : raw === 'false' ? 0 : parseInteger('--redis-durable', raw);
}

/**
 * What a newcomer most often meant by text JSON refused: a bare word for a string (`hello`, to
 * be written '"hello"'), or JavaScript's single quotes (`{'a':1}`). Empty when it is neither.
 */
function jsonHint(raw: string): string {
  if (/^\s*[[{']/.test(raw) && raw.includes("'") && !raw.includes('"')) return `; JSON quotes with ", not ' (e.g. '{"a":"b"}')`;
  if (/^[^\s{}[\]"',:0-9-][^{}[\]"']*$/.test(raw) && !/^(true|false|null)\b/.test(raw)) {
    // (escaped: JSON.stringify leaves DEL, the C1 controls and the line separators raw, which
    // broke the refusal's one line; a long text, shown cut before it, is not written out whole)
    const word = raw.trim();
    return `; a string goes in JSON's double quotes: ${word.length > 60 ? `'"…"'` : `'${escapeControls(JSON.stringify(word))}'`}`;
  }
  return '';
}

export function parseJson(what: string, raw: string): unknown {
  let huge = false;
  let v: unknown;
  try {
    v = JSON.parse(raw, (_k, x: unknown) => {
      if (typeof x === 'number' && !Number.isFinite(x)) huge = true;
      return x;
    });
  } catch (e) {
    // (JSON.parse recurses: text nested some thousands deep overflows its stack, valid as it is)
    if (e instanceof RangeError && jsonDeeperThan(raw)) {
      throw new UsageError(`${what} is nested deeper than Redis decodes JSON (${MAX_JSON_DEPTH - 1} levels of arrays and objects): a worker could not read it`);
    }
    throw new UsageError(`${what} is not valid JSON (${escapeControls((e as Error).message)}): ${escapeControls(raw.length > 60 ? `${raw.slice(0, 60)}…` : raw)}${jsonHint(raw)}`);
  }
  // JSON.parse reads 1e400 as Infinity, which JSON.stringify writes as null: the task (or the
  // event) would get null where a number was typed
  if (huge) throw new UsageError(`${what} holds a number too large to be carried (${hugeNumber(raw)}), which would arrive as null`);
  // JSON.parse reads an integer past 2^53 as the nearest double: 12345678901234567890 would be
  // queued as 12345678901234567000, another number, nothing said
  const inexact = inexactInteger(raw);
  if (inexact !== undefined) {
    const shown = inexact.length > 40 ? `${inexact.slice(0, 40)}…` : inexact;
    throw new UsageError(`${what} holds an integer too large to be carried exactly (${shown}, past 2^53), which would arrive as ${inexact.length > 40 ? 'another number' : String(Number(inexact))}: give it as a string`);
  }
  return v;
}

/** the first integer of this (valid) JSON text that a double does not hold exactly, as typed */
function inexactInteger(json: string): string | undefined {
  // (one test for the usual text: an integer a double does not hold has 16 digits or more)
  if (!/\d{16}/.test(json)) return undefined;
  for (const [token] of json.matchAll(/"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g)) {
    if (!/^-?\d{16,}$/.test(token)) continue;
    if (BigInt(Number(token)) !== BigInt(token)) return token;
  }
  return undefined;
}

/** the first number of this (valid) JSON text that a double cannot hold, as typed */
function hugeNumber(json: string): string {
  for (const [token] of json.matchAll(/"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g)) {
    if (!token.startsWith('"') && !Number.isFinite(Number(token))) return token.length > 40 ? `${token.slice(0, 40)}…` : token;
  }
  return 'Infinity';
}
