/**
 * Swarm-wide limits (src/lua/lib/limits.lua): set or remove one (set-limit.lua, which lets what
 * the old limit held back take its turn again), and read them with what runs under each now.
 */
import type { Connection } from '../redis.js';
import type { Keys } from '../keys.js';
import { runScript } from '../scripts.js';
import { ConfigError } from '../errors.js';
import { quote } from '../quote.js';
import { wellFormed } from '../wire.js';
import { readTogether } from '../read-together.js';

/** what a limit applies to: one function, or one group (across functions) */
export type LimitTarget = { function: string } | { group: string };

export interface Limit {
  /** at most this many tasks of the target run at once, across the swarm */
  concurrency?: number;
  /** at most `max` tasks of the target start in any `per` ms (Redis's clock) */
  rate?: { max: number; per: number };
}

export interface LimitInfo extends Limit {
  function?: string;
  group?: string;
  /** tasks of the target running now */
  running: number;
  /** the stored value, when it is not a limit (written by hand): claims ignore it */
  invalid?: string;
}

/** the largest concurrency, rate or window a limit takes (the claim script's integers) */
export const LIMIT_MAX = 2 ** 31 - 1;
const positive = (what: string, v: unknown): number => {
  // (a number as String writes it: JSON.stringify writes NaN and Infinity as null)
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > LIMIT_MAX) throw new ConfigError(`${what} must be an integer from 1 to ${LIMIT_MAX}, got ${quote(v)}`);
  return v;
};

/** The field of a target in the limits and running hashes: 'f:<fn>' or 'g:<group>'; validated. */
export function targetField(target: LimitTarget): string {
  if (target === null || typeof target !== 'object') throw new ConfigError('setLimit: the target must be { function } or { group }');
  const keys = Object.keys(target);
  if (keys.length !== 1 || !['function', 'group'].includes(keys[0]!)) {
    throw new ConfigError(`setLimit: the target must be exactly one of { function } or { group }, got ${quote(target)}`);
  }
  const [kind, name] = Object.entries(target)[0] as [string, unknown];
  if (typeof name !== 'string' || name === '') throw new ConfigError(`setLimit: target.${kind} must be a non-empty string, got ${quote(name)}`);
  if (kind === 'group') checkGroup('setLimit: target.group', name);
  // (a lone surrogate reaches Redis as U+FFFD: the limit would hold the function named so)
  else if (!wellFormed(name)) throw new ConfigError(`setLimit: target.function must be well-formed Unicode (it holds a lone surrogate), got ${quote(name)}`);
  return `${kind === 'function' ? 'f' : 'g'}:${name}`;
}

/**
 * A group name: a string of 1..128 bytes of well-formed Unicode (claim.lua parks a task whose
 * group is not: a lone surrogate has no UTF-8 form, and reaches Redis as bytes that are not
 * UTF-8).
 */
export function checkGroup(what: string, group: unknown): string {
  if (typeof group !== 'string' || group === '' || Buffer.byteLength(group) > 128 || !wellFormed(group)) {
    throw new ConfigError(`${what} must be a string of 1 to 128 bytes of well-formed Unicode, got ${quote(group).slice(0, 60)}`);
  }
  return group;
}

/** A limit as stored, validated: a ConfigError names what is wrong, before anything is written. */
export function checkLimit(limit: Limit): string {
  if (limit === null || typeof limit !== 'object') throw new ConfigError('setLimit: the limit must be an object { concurrency?, rate? } or null');
  for (const k of Object.keys(limit)) if (k !== 'concurrency' && k !== 'rate') throw new ConfigError(`setLimit: unknown limit option "${k}" (known: concurrency, rate)`);
  const out: Limit = {};
  if (limit.concurrency !== undefined) out.concurrency = positive('setLimit: concurrency', limit.concurrency);
  if (limit.rate !== undefined) {
    const r = limit.rate as Record<string, unknown>;
    if (r === null || typeof r !== 'object') throw new ConfigError('setLimit: rate must be { max, per }');
    for (const k of Object.keys(r)) if (k !== 'max' && k !== 'per') throw new ConfigError(`setLimit: unknown rate option "${k}" (known: max, per)`);
    out.rate = { max: positive('setLimit: rate.max', r.max), per: positive('setLimit: rate.per (ms)', r.per) };
  }
  if (out.concurrency === undefined && out.rate === undefined) throw new ConfigError('setLimit: a limit needs concurrency, rate, or both (null removes it)');
  return JSON.stringify(out);
}

export async function setLimit(redis: Connection, keys: Keys, target: LimitTarget, limit: Limit | null): Promise<void> {
  const field = targetField(target);
  const json = limit === null ? '' : checkLimit(limit);
  await runScript(redis, 'set-limit', [keys.newQueue, keys.leases], [field, json, keys.taskKeyPrefix]);
}

export async function readLimits(redis: Connection, keys: Keys): Promise<LimitInfo[]> {
  const [[, limits], [, running]] = (await readTogether(redis, (c) => c.hgetall(keys.limits).hgetall(keys.running))) as [[null, Record<string, string>], [null, Record<string, string>]];
  const out: LimitInfo[] = [];
  for (const [field, json] of Object.entries(limits).sort()) {
    // judged as the claim script judges it (lib/limits.lua validLimit): a whole limit, or none
    let l: Limit | { invalid: string } = { invalid: json };
    try {
      const parsed = JSON.parse(json) as Limit;
      checkLimit(parsed);
      l = parsed;
    } catch {
      // written by hand: shown as it is stored
    }
    const name = field.slice(2);
    out.push({ ...(field.startsWith('f:') ? { function: name } : { group: name }), ...l, running: Number(running[field] ?? 0) });
  }
  return out;
}
