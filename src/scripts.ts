/**
 * The Lua scripts in ./lua, each loaded once per connection with ioredis `defineCommand`
 * (EVALSHA, falling back to EVAL after a Redis restart flushed the script cache). A line
 * `--@include other.lua` is replaced by that script's source (finish-claim.lua runs two
 * scripts in one call that way, each unchanged).
 */
import { readFileSync } from 'node:fs';
import type { ChainableCommander, Redis } from 'ioredis';

/** script name -> number of KEYS it takes (see each file's header) */
export const SCRIPTS = {
  claim: 5,
  renew: 6,
  finish: 2,
  'finish-claim': 7,
  requeue: 9,
  reap: 3,
  'hand-back': 3,
  reassert: 5,
  submit: 3,
  register: 3,
  'retry-dead': 2,
} as const;
export type ScriptName = keyof typeof SCRIPTS;

const sources = new Map<ScriptName, string>();
export function source(name: ScriptName, including: ScriptName[] = []): string {
  let s = sources.get(name);
  if (s === undefined) {
    const raw = readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8').replace(/\r\n/g, '\n');
    s = raw.replace(/^[ \t]*--@include ([\w-]+)\.lua[ \t]*$/gm, (_, inc: string) => {
      if (!(inc in SCRIPTS) || inc === name || including.includes(inc as ScriptName)) throw new Error(`${name}.lua: cannot include ${inc}.lua`);
      return source(inc as ScriptName, [...including, name]);
    });
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
