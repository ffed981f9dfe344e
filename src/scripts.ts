/**
 * The Lua scripts in ./lua, loaded into Redis as one function library (FUNCTION LOAD) and run
 * by name with FCALL.
 *
 * One library, not a script per file run with EVALSHA: an EVALSHA runs the whole script body
 * each call, so every helper it defines is a new closure each time (a tenth of a task's Redis
 * work at concurrency 1). A library's body runs once, at load: the helpers of ./lua/lib are
 * defined once at its top and shared by every script, and each script is a function of it.
 * Functions also outlive a restart with persistence and reach replicas by replication, which a
 * script cache does not.
 *
 * A line `--@include name.lua` names what a file uses: a helper from ./lua/lib (defined at the
 * library's top, once, its own includes first) or a whole script, whose function the including
 * script then calls by the script's name (finish-claim.lua calls claim.lua's that way,
 * unchanged: `claim(KEYS, ARGV, at)`, at saying where claim.lua's ARGV start in the ARGV given,
 * so that none are copied; a script called by Redis has them from the first, `at` nil). `lib/park-codes.lua` is
 * generated from src/errors.ts: the error name and code of each dead-letter reason. A helper
 * that keeps state within a call registers how to forget it (lib/call-state.lua): every call
 * starts from none.
 *
 * The library's name holds a hash of its code, so that workers of two versions (a rolling
 * upgrade) each run their own. A Redis that lost it (restarted without persistence, FUNCTION
 * FLUSH, a replica promoted before it replicated) answers "Function not found": it is loaded
 * again and the call sent again, once, in a pipeline too, in the order the calls were sent
 * (src/script-line.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Cluster, ReplyError, type ChainableCommander, type Redis } from 'ioredis';
import { atKey, primaries, type Connection } from './redis.js';
import { FcallCommand } from './fcall-command.js';
import { askPrimaries } from './each-primary.js';
import { answered, inLine, sendAgain } from './script-line.js';
import { ConfigError, DEAD_LETTER_REASONS, RedisUnavailableError, type TaskSwarmError } from './errors.js';
import { within } from './within.js';

/** script name -> number of KEYS it takes (see each file's header); `[n, m]`: from n to m */
export const SCRIPTS = {
  claim: [10, 11],
  renew: 7,
  finish: 4,
  'finish-claim': [10, 11],
  'claim-recover': 4,
  'park-claimed': 8,
  emit: 1,
  'told-stop': 1,
  requeue: 18,
  reap: 4,
  'trim-dead': 4,
  'hand-back': 3,
  reassert: 6,
  submit: 2,
  cancel: 4,
  register: 8,
  'retry-dead': 6,
  'purge-dead': 5,
  'set-limit': 2,
  pause: 2,
  resume: 2,
  ready: 1,
  'set-schedule': 3,
  unschedule: 4,
  'fire-schedule': 6,
} as const;
export type ScriptName = keyof typeof SCRIPTS;

/**
 * Flags of a script's function (Redis 7 `register_function` flags). A function declared without
 * any is refused whole while Redis is over its maxmemory (noeviction), where an EVAL of the same
 * script ran and was refused only at its first write that could grow memory. The scripts that
 * only delete (the dead-letter purge and trim, the cleanup of ended tasks, the removal of a
 * schedule) or only publish (a task's events) must run there: the purge is how an operator frees
 * memory, the cleanup is the swarm's own, and a schedule that floods the queue can be removed
 * (as a MULTI of HDEL and ZREM it could not be: Redis refuses any command queued in a MULTI
 * there). The purge and the removal also record their call's token (lib/admin-calls.lua): a few
 * bytes for ten minutes, against what they free. Every other script stays refused at maxmemory
 * (a claim would take work whose END could not be written).
 */
const FLAGS: Partial<Record<ScriptName, readonly string[]>> = {
  'purge-dead': ['allow-oom'],
  unschedule: ['allow-oom'],
  'trim-dead': ['allow-oom'],
  reap: ['allow-oom'],
  emit: ['allow-oom'],
  // (a control stop, which it runs too: its message was a plain PUBLISH, which Redis takes at
  // maxmemory, and its mark is one small field on a running task's hash; a cancel frees the
  // entry it takes out of the queue, and writes a few small fields: the way to make room)
  cancel: ['allow-oom'],
};

const GENERATED: Record<string, () => string> = {
  'lib/park-codes': () => {
    const rows = Object.entries(DEAD_LETTER_REASONS).map(([reason, r]) => `  ${reason} = { code = '${r.code}', name = '${r.error}'${'refusedAsIs' in r ? ', refusedAsIs = true' : ''} },`);
    return ['-- lib/park-codes.lua (generated from src/errors.ts): the error of each dead-letter reason', 'local PARK_CODES = {', ...rows, '}'].join('\n');
  },
};

function read(name: string): string {
  const gen = GENERATED[name];
  if (gen) return gen();
  return readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8').replace(/\r\n/g, '\n');
}

const INCLUDE = /^[ \t]*--@include ([\w/-]+)\.lua[ \t]*$/gm;
const ident = (name: string) => name.replace(/[^A-Za-z0-9]/g, '_');

export interface Library {
  /** the library's name in Redis: `taskswarm_<hash of its code>` */
  name: string;
  /** the FUNCTION LOAD source */
  code: string;
  /** script -> the name of its function in Redis */
  functions: Record<ScriptName, string>;
}

function build(): Library {
  const helpers: string[] = [];
  const scripts: string[] = [];
  const defined = new Set<string>();
  // what is being expanded, outermost first: an include of one of these is a cycle
  const stack: string[] = [];

  const expand = (name: string, isScript: boolean): string => {
    if (stack.includes(name)) throw new Error(`${name}.lua: included in a cycle (${[...stack, name].join(' -> ')})`);
    stack.push(name);
    const text = read(name).replace(INCLUDE, (_, inc: string) => {
      if (inc.startsWith('lib/')) {
        define(inc, false);
        return `-- (${inc}.lua: defined at the library's top)`;
      }
      if (!isScript || !(inc in SCRIPTS)) throw new Error(`${name}.lua: cannot include ${inc}.lua`);
      define(inc, true);
      return `local ${ident(inc)} = script_${ident(inc)}`;
    });
    stack.pop();
    // an include the pattern missed (not alone on its line) would leave a function undefined
    if (text.includes('--@include')) throw new Error(`${name}.lua: an --@include line must stand alone`);
    return text;
  };
  const define = (name: string, isScript: boolean) => {
    if (stack.includes(name)) expand(name, isScript); // (throws: a cycle)
    if (defined.has(name)) return;
    defined.add(name);
    const text = expand(name, isScript);
    if (isScript) scripts.push(`local function script_${ident(name)}(KEYS, ARGV, at)\n${text}\nend`);
    else helpers.push(text);
  };

  define('lib/call-state', false);
  for (const n of Object.keys(SCRIPTS) as ScriptName[]) define(n, true);
  const body = [...helpers, ...scripts].join('\n\n');
  // each script's function, registered with its flags; `@` stands for the hash, which covers
  // these lines too: a version whose scripts are the same but registered otherwise (flags) must
  // not take this one's name, or a process of either would run the other's
  const register = (Object.keys(SCRIPTS) as ScriptName[]).map((n) => {
    const flags = (FLAGS[n] ?? []).map((f) => `'${f}'`).join(', ');
    return `redis.register_function{ function_name = 'ts_@_${ident(n)}', callback = function(KEYS, ARGV) beginCall() return script_${ident(n)}(KEYS, ARGV) end, flags = { ${flags} } }`;
  });
  const hash = createHash('sha1').update(body).update(register.join('\n')).digest('hex').slice(0, 12);
  const functions = Object.fromEntries(Object.keys(SCRIPTS).map((n) => [n, `ts_${hash}_${ident(n)}`])) as Record<ScriptName, string>;
  const registered = register.map((line) => line.replace('ts_@_', `ts_${hash}_`));
  const name = `taskswarm_${hash}`;
  const code = [`#!lua name=${name}`, '-- Task Swarm: the scripts of src/lua as one library (built by src/scripts.ts)', body, ...registered, ''].join('\n\n');
  return { name, code, functions };
}

let built: Library | undefined;
/** The function library, built once from ./lua. */
export function library(): Library {
  return (built ??= build());
}

const loads = new WeakMap<Redis, Promise<void>>();

/**
 * Load the library where `conn` runs scripts: one Redis, or every primary of a Cluster (any may
 * come to serve the swarm's slot: a migration, a failover to a replica that never had it).
 */
export async function loadLibrary(conn: Connection): Promise<void> {
  const settled = await askPrimaries(primaries(conn), loadOn);
  // A primary that does not answer (another shard down) is passed over (src/each-primary.ts):
  // the script is run again right after, and fails on its own if the node it needs is the one,
  // and one that lacks the library is given it when a script finds it missing. One that refused the
  // library (NOPERM, out of memory...) says why.
  const refused = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected' && r.reason instanceof ReplyError);
  if (refused) throw refused.reason;
  if (!settled.some((r) => r.status === 'fulfilled') && settled.length) throw (settled[0] as PromiseRejectedResult).reason;
}

/**
 * Load the library where `conn` runs scripts unless it is there already (FUNCTION LIST of its
 * name, not the library's 180 KB sent each time), for a caller whose calls must reach Redis in
 * the order they were made (Client): a script that finds the library missing is sent again after
 * the load, behind whatever was sent after it (a `get` made after a `submit` of a fresh Redis
 * read no task). Called before its first script, so that a Redis no one has used yet keeps the
 * order; one that loses the library later (FUNCTION FLUSH, a restart without persistence) is
 * found by the scripts, and src/script-line.ts keeps their order across the reload. Never
 * rejects: a user whose rules refuse the check or the load (a producer's, src/acl.ts) leaves it
 * to the scripts, which are refused then.
 */
export async function ensureLibrary(conn: Connection, keys: readonly string[]): Promise<void> {
  const { name, code } = library();
  // Asked where the swarm's scripts run, the node serving each key's slot (atKey), and nowhere
  // else: a silent primary of another shard is no concern of this order, and was waited for
  // once more at start (the server check's grace, then this one's). One Redis: asked once.
  const at = conn instanceof Cluster ? [...new Set(keys)] : keys.slice(0, 1);
  await Promise.allSettled(
    at.map(async (key) => {
      const found = (await atKey(conn, key, 'FUNCTION', 'LIST', 'LIBRARYNAME', name)) as unknown[];
      // (LIBRARYNAME matches names containing it: the name holds the code's hash, so another
      // version's library is not this one, and a library whose name only contains it is not ours)
      if (!found.some((l) => Array.isArray(l) && l[1] === name)) await atKey(conn, key, 'FUNCTION', 'LOAD', code);
    }),
  );
}

/** Load the library on one node (one load at a time per connection; loaded already counts). */
function loadOn(redis: Redis): Promise<void> {
  let p = loads.get(redis);
  if (!p) {
    p = (async () => {
      try {
        await redis.function('LOAD', library().code);
      } catch (e) {
        if (!/already exists/.test((e as Error).message)) throw e;
      }
    })().finally(() => loads.delete(redis));
    loads.set(redis, p);
  }
  return p;
}

function notLoaded(e: unknown): boolean {
  return e instanceof Error && /Function not found/i.test(e.message);
}

/**
 * A redirect ioredis handed on rather than followed: it follows MOVED and ASK only for a batch
 * whose every command got the same one, and a batch a slot's move split (its first calls run on
 * the source before the move, the rest refused after it) hands the rest theirs. Refused, they
 * did not run; sent again here they could pass calls made after them, which ioredis sends on
 * at once: the caller is told, in words it can act on.
 */
function redirected(e: unknown, redis: Connection): TaskSwarmError | undefined {
  if (!(e instanceof Error) || !/^(MOVED|ASK) \d+ /.test(e.message)) return undefined;
  // (one Redis that answers MOVED is a Cluster node named as one Redis, which no longer serves
  // the swarm's slot, if it ever did: made again, the call is refused again)
  if (!(redis instanceof Cluster)) {
    return new ConfigError(`Redis answered ${e.message}: it is a node of a Redis Cluster, which does not serve the swarm's keys; name the cluster (redis.cluster), not one of its nodes`, { cause: e });
  }
  const refused = new RedisUnavailableError(`the swarm's slot moved to another Redis Cluster node while this call was on its way (${e.message}): it did not run; make it again`, e);
  refusedByMove.add(refused);
  return refused;
}

const refusedByMove = new WeakSet<Error>();

/** a script's refusal as its caller is told it: a redirect handed on as `redirected` says, once the slots are read again */
function refused(e: unknown, redis: Connection): Promise<never> {
  const moved = redirected(e, redis);
  if (moved && redis instanceof Cluster) return learnSlots(redis).then(() => Promise.reject(moved));
  return Promise.reject(moved ?? e);
}

/**
 * The slots read again, after a redirect ioredis handed on: it learns nothing from one (its
 * slot table kept the slot on the node that refused it, and every batch for the slot that
 * also held a call for another slot of that node, run there, was split again: a call over
 * every partition, made again, failed each time). Bounded: the caller is told meanwhile.
 */
function learnSlots(cluster: Cluster): Promise<unknown> {
  return within(SLOTS_READ_MS, new Promise<void>((resolve) => cluster.refreshSlotsCache(() => resolve())));
}

/** how long a refused call waits for the slots to be read again before it rejects */
const SLOTS_READ_MS = 1000;

/** a script call's error saying a slot's move refused it (it did not run) */
export function refusedMoving(e: unknown): e is RedisUnavailableError {
  return e instanceof RedisUnavailableError && refusedByMove.has(e);
}

/**
 * The error of a call made of several scripts (a pause, a resume or a setLimit: a share per
 * partition) when one of them was refused by a slot's move (`redirected`) and another ran: that
 * one did not run, the call did in part. (A submitMany says which of its tasks ran:
 * PartlySubmittedError.) Any other error as it is.
 */
export function partlyRun(e: unknown, what: string, alsoFailed?: unknown): unknown {
  if (!refusedMoving(e)) return e;
  const move = e.cause instanceof Error ? e.cause.message : e.message;
  // (another part failed for its own reason: it may or may not have run, as that error says)
  const rest = alsoFailed === undefined ? 'the rest did' : `another part failed (${alsoFailed instanceof Error ? alsoFailed.message : String(alsoFailed)}), the rest ran`;
  return new RedisUnavailableError(
    `${what}: a slot of the swarm moved to another Redis Cluster node while this call was on its way (${move}): the part of it for that slot did not run, ${rest}`,
    e.cause,
  );
}

function check(name: ScriptName, keys: readonly string[]): void {
  const takes: number | readonly [number, number] = SCRIPTS[name];
  const [least, most] = typeof takes === 'number' ? [takes, takes] : takes;
  if (keys.length < least || keys.length > most) throw new Error(`script ${name} takes ${least === most ? least : `${least} to ${most}`} keys, got ${keys.length}`);
}

/**
 * Run a script by name: KEYS then ARGV, as its header says. (Sent at once, in call order.)
 * `unbatched`: written now even on a connection that auto-pipelines, for a call its caller has
 * batched already (a tick's submits): ioredis would hold it for the next event-loop turn, which
 * an idle producer's submit pays in full, on the way to a waiting worker. Only when nothing
 * made before it waits there (`writesNow`): otherwise it joins them, in order.
 */
export function runScript(redis: Connection, name: ScriptName, keys: readonly string[], args: readonly (string | number)[], unbatched = false): Promise<unknown> {
  check(name, keys);
  const fn = library().functions[name];
  // (in the connection's line: a script Redis did not find is sent again in the order it was
  // sent, before the calls made while the library was loaded again, src/script-line.ts)
  return inLine(redis, (ticket) =>
    fcall(redis, fn, keys, args, unbatched).then(
      (reply) => {
        answered(ticket);
        return reply;
      },
      (e: unknown) => {
        if (!notLoaded(e)) {
          answered(ticket);
          return refused(e, redis);
        }
        // (sent again after the load: a slot's move may refuse it then, as the first time)
        const again = sendAgain(ticket, 0, () => loadLibrary(redis), () => fcall(redis, fn, keys, args, unbatched), e).catch((x: unknown) => refused(x, redis));
        answered(ticket);
        return again;
      },
    ),
  );
}

/**
 * A token for one administrative call (the scripts lib/admin-calls.lua names): recorded with its
 * work, so the same call sent again after a reconnect answers what its first run did. A new one
 * per call, never per retry of the call.
 */
export function adminCallToken(): string {
  return randomBytes(8).toString('hex');
}

/**
 * Can a call written at once on `redis` (auto-pipelined) pass nothing made before it? Only when
 * its auto-pipeline holds nothing (a command made earlier in this event-loop turn, a client's
 * `cancel` or `pause` before its submit, waits there until the turn ends: written past it, the
 * submit would reach Redis first, and a dedupe key the cancel frees be found still held) and it
 * is ready (a Cluster not ready holds its auto-pipelined commands out of that count).
 */
function writesNow(redis: Connection): boolean {
  // (not on a Cluster: a submit written there at once left tasks that a waiting client never saw
  // end, in test/review-cluster-move.test.ts, about one run in two; not understood yet)
  return !(redis instanceof Cluster) && redis.status === 'ready' && redis.autoPipelineQueueSize === 0;
}

/**
 * FCALL as one Command made here (src/fcall-command.ts, which also writes its request in one
 * pass): ioredis's generated command methods take their arguments as a rest parameter and copy
 * it with Array.prototype.flat, which V8 runs element by element through its generic path, and
 * a claim carries some thirty arguments on every round trip of the worker's hot path. A connection whose options change how a command is built or sent (a
 * key prefix, auto-pipelining unless `unbatched`, friendly error stacks) goes through ioredis's
 * own method.
 */
function fcall(redis: Connection, fn: string, keys: readonly string[], args: readonly (string | number)[], unbatched: boolean): Promise<unknown> {
  const o = redis.options as { keyPrefix?: string; enableAutoPipelining?: boolean; showFriendlyErrorStack?: boolean };
  if (o.keyPrefix || (o.enableAutoPipelining && !(unbatched && writesNow(redis))) || o.showFriendlyErrorStack) return redis.fcall(fn, keys.length, ...keys, ...args);
  // (its arguments as text, as ioredis's own methods would write them: a number by String())
  const list: string[] = [fn, String(keys.length)];
  for (const k of keys) list.push(k);
  for (const a of args) list.push(typeof a === 'string' ? a : String(a));
  const command = new FcallCommand(list);
  return redis.sendCommand(command) as Promise<unknown>;
}

interface Queued {
  redis: Connection;
  /** pipeline index -> the script queued there */
  calls: Map<number, { name: ScriptName; keys: readonly string[]; args: readonly (string | number)[] }>;
}
const queued = new WeakMap<ChainableCommander, Queued>();

/** A pipeline on `redis` that can queue scripts (`pipeScript`); run it with `execPipeline`. */
export function scriptPipeline(redis: Connection): ChainableCommander {
  const pipe = redis.pipeline();
  queued.set(pipe, { redis, calls: new Map() });
  return pipe;
}

/** Queue a script by name on a pipeline made by scriptPipeline. */
export function pipeScript(pipe: ChainableCommander, name: ScriptName, keys: readonly string[], args: readonly (string | number)[]): void {
  check(name, keys);
  const q = queued.get(pipe);
  if (!q) throw new Error('pipeScript: the pipeline was not made by scriptPipeline');
  q.calls.set(pipe.length, { name, keys, args });
  pipe.fcall(library().functions[name], keys.length, ...keys, ...args);
}

/**
 * Run a pipeline made by scriptPipeline: its replies, in order. A script Redis did not find
 * (the library lost) is sent again once the library is loaded, in the connection's line
 * (src/script-line.ts): in its pipeline's place, by its index there.
 */
export function execPipeline(pipe: ChainableCommander): Promise<[Error | null, unknown][]> {
  const q = queued.get(pipe);
  if (!q) return pipe.exec().then((replies) => (replies ?? []) as [Error | null, unknown][]);
  const { redis, calls } = q;
  // (one call of the connection's line: sent again in its place, each script by its index)
  return inLine(redis, async (ticket) => {
    let replies: [Error | null, unknown][];
    try {
      replies = ((await pipe.exec()) ?? []) as [Error | null, unknown][];
    } catch (e) {
      answered(ticket);
      throw e;
    }
    const again: Promise<void>[] = [];
    for (const [i, c] of calls) {
      if (!notLoaded(replies[i]?.[0])) continue;
      const send = () => fcall(redis, library().functions[c.name], c.keys, c.args, false);
      again.push(
        sendAgain(ticket, i, () => loadLibrary(redis), send, replies[i]![0]).then(
          (r) => void (replies[i] = [null, r]),
          (e: Error) => void (replies[i] = [e, null]),
        ),
      );
    }
    answered(ticket);
    if (again.length) await Promise.all(again);
    return replies;
  });
}
