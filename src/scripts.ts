/**
 * The Lua scripts in ./lua, each loaded once per connection with ioredis `defineCommand`
 * (EVALSHA, falling back to EVAL after a Redis restart flushed the script cache).
 *
 * A line `--@include name.lua` is replaced by that file's source: a whole script (finish-claim.lua
 * runs two scripts in one call that way, each unchanged), or a helper from ./lua/lib
 * (`--@include lib/now.lua`) shared by the scripts that need it, so a fact (Redis's clock in ms,
 * what a task id is, how an entry is parked) is written once. A helper included twice into one
 * script is expanded once. `lib/park-codes.lua` is generated from src/errors.ts: the error name
 * and code of each dead-letter reason.
 */
import { readFileSync } from 'node:fs';
import type { ChainableCommander, Redis } from 'ioredis';
import { DEAD_LETTER_REASONS } from './errors.js';

/** script name -> number of KEYS it takes (see each file's header) */
export const SCRIPTS = {
  claim: 10,
  renew: 6,
  finish: 4,
  'finish-claim': 14,
  'claim-recover': 4,
  'park-claimed': 8,
  emit: 0,
  requeue: 13,
  reap: 3,
  'trim-dead': 4,
  'hand-back': 3,
  reassert: 6,
  submit: 2,
  cancel: 4,
  register: 4,
  'retry-dead': 5,
  'purge-dead': 4,
  'set-limit': 2,
  resume: 1,
  ready: 1,
  'set-schedule': 2,
  'fire-schedule': 6,
} as const;
export type ScriptName = keyof typeof SCRIPTS;

const GENERATED: Record<string, () => string> = {
  'lib/park-codes': () => {
    const rows = Object.entries(DEAD_LETTER_REASONS).map(([reason, r]) => `  ${reason} = { code = '${r.code}', name = '${r.error}' },`);
    return ['-- lib/park-codes.lua (generated from src/errors.ts): the error of each dead-letter reason', 'local PARK_CODES = {', ...rows, '}'].join('\n');
  },
};

function read(name: string): string {
  const gen = GENERATED[name];
  if (gen) return gen();
  return readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8').replace(/\r\n/g, '\n');
}

function expand(name: string, including: string[], seen: Set<string>): string {
  return read(name).replace(/^[ \t]*--@include ([\w/-]+)\.lua[ \t]*$/gm, (_, inc: string) => {
    const isLib = inc.startsWith('lib/');
    if (!(isLib || inc in SCRIPTS) || inc === name || including.includes(inc)) throw new Error(`${name}.lua: cannot include ${inc}.lua`);
    // a helper's functions are defined once per script; a whole script is a body, included as often as written
    if (isLib && seen.has(inc)) return `-- (${inc}.lua: included above)`;
    if (isLib) seen.add(inc);
    return expand(inc, [...including, name], isLib ? seen : new Set(seen));
  });
}

const sources = new Map<ScriptName, string>();
export function source(name: ScriptName): string {
  let s = sources.get(name);
  if (s === undefined) {
    s = expand(name, [], new Set());
    // an include the pattern missed (not alone on its line) would leave a function empty
    if (s.includes('--@include')) throw new Error(`${name}.lua: an --@include line must stand alone`);
    sources.set(name, s);
  }
  return s;
}

const defined = new WeakSet<Redis>();

function define(redis: Redis): void {
  if (defined.has(redis)) return;
  for (const n of Object.keys(SCRIPTS) as ScriptName[]) {
    redis.defineCommand(commandName(n), { numberOfKeys: SCRIPTS[n], lua: source(n) });
  }
  defined.add(redis);
}

/** Run a script by name: KEYS then ARGV, as its header says. */
export function runScript(redis: Redis, name: ScriptName, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  define(redis);
  return call(redis, name, keys, args) as Promise<unknown>;
}

/**
 * A pipeline on `redis` that can queue scripts (`pipeScript`): the scripts must be defined on
 * the connection before its pipeline is made.
 */
export function scriptPipeline(redis: Redis): ChainableCommander {
  define(redis);
  return redis.pipeline();
}

/** Queue a script by name on a pipeline made by scriptPipeline. */
export function pipeScript(pipe: ChainableCommander, name: ScriptName, keys: readonly string[], args: readonly (string | number)[]): void {
  call(pipe, name, keys, args);
}

function call(target: Redis | ChainableCommander, name: ScriptName, keys: readonly string[], args: readonly (string | number)[]): unknown {
  if (keys.length !== SCRIPTS[name]) throw new Error(`script ${name} takes ${SCRIPTS[name]} keys, got ${keys.length}`);
  const fn = (target as unknown as Record<string, (...a: (string | number)[]) => unknown>)[commandName(name)];
  return fn!.call(target, ...keys, ...args);
}

function commandName(n: ScriptName): string {
  return `ts_${n.replace(/-/g, '_')}`;
}
