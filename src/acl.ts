/**
 * Least-privilege Redis ACL rules for the roles of a swarm: a worker, a monitor, a producer (a
 * Client that submits, reads, waits for, cancels and controls tasks), an operator (a Client
 * that sets limits, pauses, schedules, reads status and handles dead letters) and a dashboard
 * (src/dashboard/: reads everything, cancels and controls tasks, retries and purges dead letters). Built from the key
 * names of a config (src/keys.ts), so a swarm with its own prefix gets its own patterns;
 * acl/task-swarm.acl is this for the default names (`npm run docs` writes it, a test checks it).
 *
 * What a role may run is the commands it sends itself plus every command inside the scripts it
 * runs: Redis checks the commands a function calls against the caller's rules, and the keys of
 * FCALL against its key patterns before the function starts (read-write), so a role without
 * write access to a key another role's script declares cannot run that script at all. The
 * script commands are read from the Lua sources, so a script that starts calling a new command
 * changes the rules with it.
 */
import { readFileSync } from 'node:fs';
import type { RedisConfig } from './config.js';
import { ConfigError } from './errors.js';
import { quote } from './quote.js';
import { partitionPrefix } from './partitions.js';
import { buildKeys, globEscape } from './keys.js';
import { SCRIPTS, type ScriptName } from './scripts.js';

/**
 * The commands that run our scripts, in one place: they are functions of one library
 * (src/scripts.ts), run with FCALL, and loaded with FUNCTION LOAD by a connection that finds
 * the library missing.
 */
export const SCRIPT_RUNNERS = ['fcall'] as const;
/**
 * Loading the library: not for the producer nor the dashboard. A user that may load a library
 * may load one under the name the next version will call (the name is a hash of code anyone can
 * read), and the other roles would run its functions with their own rights; the producer is the
 * role most likely to run on a less trusted host, and the dashboard the one that serves HTTP. One
 * that finds the library missing (a fresh Redis no worker or monitor has used yet) is refused
 * until one has loaded it.
 */
export const SCRIPT_LOADERS = ['function|load'] as const;
const NOT_LOADING: readonly AclRole[] = ['producer', 'dashboard'];

/**
 * What any connection of ours sends besides its work: AUTH/HELLO, its name (CLIENT SETNAME),
 * ioredis's ready check and our version check (INFO), SELECT for a db other than 0, PING
 * (liveness), MULTI/EXEC, QUIT; on a Cluster, its layout (CLUSTER SLOTS), the check that it
 * is ok before a connection is used (CLUSTER INFO: ioredis's ready check, which refused leaves
 * every connection waiting to be ready) and the EXISTS that routes a keyless command to the
 * swarm's node (src/redis.ts atKey); the SET NX that writes or reads the swarm's partition
 * count at start, and the GET that only compares it (src/effects/layout.ts, its one key).
 */
const CONNECTION = ['auth', 'hello', 'client|setname', 'info', 'select', 'ping', 'multi', 'exec', 'discard', 'quit', 'cluster|slots', 'cluster|info', 'exists', 'set', 'get'];

/**
 * The FUNCTION LIST of our library's name with which a client asks, before its first script,
 * whether the library is there, to load it (src/scripts.ts ensureLibrary): only for the roles
 * that may load it. A rule grants a subcommand with any arguments: `FUNCTION LIST WITHCODE`
 * reads the code of every library on the server, another application's too; a role that may not
 * load learns nothing from the question (it is refused the load either way).
 */
const LOAD_CHECK = ['function|list'];

export type AclRole = 'worker' | 'monitor' | 'producer' | 'operator' | 'dashboard';
export const ACL_ROLES: readonly AclRole[] = ['worker', 'monitor', 'producer', 'operator', 'dashboard'];

/** each script's role: a script no role runs is refused to all (a test checks every one is placed) */
export const SCRIPT_ROLES: Record<ScriptName, AclRole> = {
  claim: 'worker',
  renew: 'worker',
  'told-stop': 'worker',
  finish: 'worker',
  'finish-claim': 'worker',
  'claim-recover': 'worker',
  'park-claimed': 'worker',
  emit: 'worker',
  'hand-back': 'worker',
  reassert: 'worker',
  register: 'worker',
  ready: 'worker',
  requeue: 'monitor',
  reap: 'monitor',
  'trim-dead': 'monitor',
  'fire-schedule': 'monitor',
  submit: 'producer',
  cancel: 'producer',
  'retry-dead': 'operator',
  'purge-dead': 'operator',
  'set-limit': 'operator',
  pause: 'operator',
  resume: 'operator',
  'set-schedule': 'operator',
  unschedule: 'operator',
};

/**
 * the scripts a role runs that are placed with another: the dashboard acts through Client as a
 * producer does (cancel, a control stop) and as an operator does (dead letters), and nothing else (src/dashboard/server.ts)
 */
const ALSO_RUNS: Partial<Record<AclRole, ScriptName[]>> = { dashboard: ['cancel', 'retry-dead', 'purge-dead'] };

/** the scripts `role` runs */
export function roleScripts(role: AclRole): ScriptName[] {
  return [...(Object.keys(SCRIPT_ROLES) as ScriptName[]).filter((name) => SCRIPT_ROLES[name] === role), ...(ALSO_RUNS[role] ?? [])];
}

/** the commands each role sends itself (not through a script), from the code that sends them */
const DIRECT: Record<AclRole, string[]> = {
  // blocking wait (BLMOVE) and its end (CLIENT ID / UNBLOCK; CLIENT LIST finds a wait by name on
  // stop), control messages (PSUBSCRIBE), the worker list (SMEMBERS), its functions (HSET), a
  // task's data (HGET), redis.durable (WAIT after its ENDs), its maxPayloadBytes listed again
  // (HSETNX)
  worker: ['blmove', 'client|id', 'client|list', 'client|unblock', 'psubscribe', 'punsubscribe', 'smembers', 'hset', 'hsetnx', 'hget', 'time', 'wait'],
  // the worker list, Redis's clock, due schedules and their definitions; its metrics read the
  // swarm's counts as status does (LLEN, SCARD, ZCARD, HGETALL, LINDEX: src/effects/swarm-counts.ts);
  // its own entry in the monitors' list, marked stopped as it stops (ZSCORE, then ZREM and ZADD)
  monitor: ['smembers', 'time', 'zrange', 'hmget', 'llen', 'lindex', 'scard', 'zcard', 'hgetall', 'zscore', 'zrem', 'zadd'],
  // get/wait (HGETALL, SISMEMBER), a resent submit (HGET, LPOS, EXISTS), events (SUBSCRIBE),
  // control (PUBLISH), redis.durable (WAIT after a submit), the listed workers and their
  // maxPayloadBytes (SMEMBERS, HGETALL, before a submitMany of a large task)
  producer: ['hgetall', 'hget', 'smembers', 'sismember', 'lpos', 'exists', 'subscribe', 'unsubscribe', 'publish', 'wait'],
  // status and limits (counts of every structure), schedules (read: ZSCORE), dead letters
  // (ZREVRANGE, HMGET, HGET), get (HGETALL, SISMEMBER)
  operator: ['llen', 'lindex', 'scard', 'smembers', 'sismember', 'zcard', 'zrange', 'zrevrange', 'zscore', 'hgetall', 'hget', 'hmget', 'time'],
  // the operator's reads (status, limits, schedules, dead letters) and the producer's (get:
  // HGETALL, SISMEMBER); its own: task pages (ZRANGE, LRANGE, SSCAN, their counts, HMGET), the
  // workers (SMEMBERS, HGETALL, TIME), the monitors (ZRANGE, HGET); a task's events (SUBSCRIBE),
  // control (PUBLISH)
  dashboard: ['llen', 'lindex', 'lrange', 'scard', 'sscan', 'smembers', 'sismember', 'zcard', 'zrange', 'zrevrange', 'zscore', 'hgetall', 'hget', 'hmget', 'time', 'subscribe', 'unsubscribe', 'publish'],
};

const INCLUDE = /^[ \t]*--@include ([\w/-]+)\.lua[ \t]*$/gm;
/** generated by src/scripts.ts, and calls nothing */
const GENERATED = new Set(['lib/park-codes']);

/**
 * A command a script calls, named in its source: redis.call / redis.pcall, pcall(redis.call, ...)
 * and the helpers that take the name from their callers (lib/summed-call.lua's summedCall,
 * lib/refusal.lua's refusedAt), each with a literal name. A name held in a variable is not seen,
 * and the role running the script would be refused it (a test keeps every call literal).
 */
export const SCRIPT_CALL = /(?:redis\.p?call\(|pcall\(\s*redis\.p?call\s*,|summedCall\(|refusedAt\()\s*['"]([A-Za-z]+)['"]/g;

/**
 * The commands a script may call (SCRIPT_CALL, lower case): in
 * its file and every file it includes (`--@include`, as src/scripts.ts reads them), and in
 * lib/call-state.lua, which every call of the library runs first. A helper's command counts
 * whether or not this script reaches it: a rule too wide by a read beats a refusal mid-script.
 */
export function scriptCommands(name: ScriptName): string[] {
  const out = new Set<string>();
  const seen = new Set<string>();
  const walk = (file: string) => {
    if (seen.has(file) || GENERATED.has(file)) return;
    seen.add(file);
    const text = readFileSync(new URL(`./lua/${file}.lua`, import.meta.url), 'utf8');
    for (const m of text.matchAll(SCRIPT_CALL)) out.add(m[1]!.toLowerCase());
    for (const m of text.matchAll(INCLUDE)) walk(m[1]!);
  };
  walk('lib/call-state');
  walk(name);
  return [...out].sort();
}

/** every command `role` needs, sorted */
export function roleCommands(role: AclRole): string[] {
  const out = new Set<string>([...CONNECTION, ...SCRIPT_RUNNERS, ...(NOT_LOADING.includes(role) ? [] : [...SCRIPT_LOADERS, ...LOAD_CHECK]), ...DIRECT[role]]);
  for (const name of roleScripts(role)) for (const c of scriptCommands(name)) out.add(c);
  return [...out].sort();
}

const NAMES = ['keyPrefix', 'newQueue', 'taskSet', 'taskPrefix', 'endQueue', 'workerSet'] as const;

/**
 * The names the rules are made of: one left out was written "undefined" into every pattern (rules
 * that match none of the swarm's keys), and a space splits a rule in two, which Redis refuses to load.
 */
function checkNames(where: string, c: NameConfig): void {
  if (c === null || typeof c !== 'object') throw new ConfigError(`${where}: takes the swarm's names (${NAMES.join(', ')}), got ${quote(c)}`);
  for (const name of NAMES) {
    const v: unknown = c[name];
    if (typeof v !== 'string') throw new ConfigError(`${where}: ${name} must be a string (give every name of the swarm: ${NAMES.join(', ')}; the defaults are new-task, tasks, task-, end-task, workers and an empty keyPrefix), got ${quote(v)}`);
    // eslint-disable-next-line no-control-regex -- a control character is what is refused
    if (/[\s\u0000-\u001f\u007f]/.test(v)) throw new ConfigError(`${where}: ${name} holds a space or a control character, which no ACL rule can carry, got ${quote(v)}`);
  }
}

type NameConfig = Pick<RedisConfig, 'keyPrefix' | 'newQueue' | 'taskSet' | 'taskPrefix' | 'endQueue' | 'workerSet'> & { partitions?: number };

/**
 * The key and channel patterns of each role. Workers, monitors and operators touch every family
 * of the swarm's keys by design (a claim, a requeue or a retried dead letter moves a task across
 * all of them); a producer
 * writes the queue's structures, the task hashes and the ended list (a cancel), and reads the
 * limits and pause state its scripts consult, and nothing of the claimed set, the leases or the
 * workers: it cannot claim, renew, end or requeue. A dashboard writes what a producer writes,
 * the dead-letter store and the administrative calls' tokens, and reads every other key of the swarm: it cannot claim, renew, end or
 * requeue either (those scripts declare keys it may only read, so Redis refuses them before they
 * start), nor set limits, pause or schedule.
 */
export function rolePatterns(role: AclRole, c: NameConfig): { readWrite: string[]; readOnly: string[]; channels: string[] } {
  // every partition's keys (src/partitions.ts), and the swarm's partition count
  const n = c.partitions ?? 1;
  const each = Array.from({ length: n }, (_, p) => partitionPatterns(role, { ...c, keyPrefix: partitionPrefix(c.keyPrefix, p, n) }));
  const union = (f: (x: (typeof each)[number]) => string[]) => [...new Set(each.flatMap(f))];
  const readWrite = union((x) => x.readWrite);
  const layout = globEscape(buildKeys(c).layout);
  if (!readWrite.includes(layout)) readWrite.push(layout);
  return { readWrite, readOnly: union((x) => x.readOnly), channels: union((x) => x.channels) };
}

function partitionPatterns(role: AclRole, c: NameConfig): { readWrite: string[]; readOnly: string[]; channels: string[] } {
  const k = buildKeys(c);
  const g = globEscape;
  const tasks = `${g(k.taskKeyPrefix)}*`;
  const events = `${g(k.taskKeyPrefix)}*-events`;
  const channels = [events, `${g(k.taskKeyPrefix)}*-control`];
  const all = [g(k.newQueue), `${g(k.newQueue)}:*`, g(k.taskSet), `${g(k.taskSet)}:*`, tasks, g(k.endQueue), g(k.workerSet), `${g(k.workerSet)}:*`];
  // The operator neither publishes nor subscribes. The monitor only publishes its scripts'
  // events (a requeue's): a channel rule allows PUBLISH as well as SUBSCRIBE, so the control
  // channels would let it stop any running task.
  if (role !== 'producer' && role !== 'dashboard') return { readWrite: all, readOnly: [], channels: role === 'operator' ? [] : role === 'monitor' ? [events] : channels };
  const Q = g(k.newQueue);
  const producer = {
    readWrite: [Q, g(k.queued), g(k.counts), g(k.delayed), g(k.placedDelayed), g(k.dedupe), `${Q}:f:*`, `${Q}:g:*`, tasks, g(k.ended)],
    readOnly: [g(k.limits), g(k.running), `${Q}:rate:*`, g(k.paused), g(k.workerSet), g(k.workerMaxPayload), g(k.workerFunctions)],
    channels,
  };
  if (role === 'producer') return producer;
  // (every family read-only covers the producer's read-only keys; the administrative calls'
  // tokens are written by its retries and purges of dead letters)
  return { readWrite: [...producer.readWrite, ...k.deadStore.map(g), g(k.adminCalls)], readOnly: all, channels };
}

/** `user <name> reset on -@all +... ~... %R~... &...` for `role`: a users-file line, or after ACL SETUSER */
export function aclRule(role: AclRole, c: NameConfig): string {
  if (!ACL_ROLES.includes(role)) throw new ConfigError(`aclRule: role must be one of ${ACL_ROLES.join(', ')}, got ${quote(role)}`);
  checkNames('aclRule', c);
  const p = rolePatterns(role, c);
  return [
    'reset',
    'on',
    '-@all',
    ...roleCommands(role).map((cmd) => `+${cmd}`),
    ...p.readWrite.map((k) => `~${k}`),
    ...p.readOnly.map((k) => `%R~${k}`),
    ...p.channels.map((ch) => `&${ch}`),
  ].join(' ');
}

export const ACL_USERS: Record<AclRole, string> = {
  worker: 'task-swarm-worker',
  monitor: 'task-swarm-monitor',
  producer: 'task-swarm-producer',
  operator: 'task-swarm-operator',
  dashboard: 'task-swarm-dashboard',
};

/**
 * A Redis users file (`aclfile`) with one user per role for the names in `c`, and no passwords:
 * append `>password` (or `#<sha256 hex>`) to each line before use. Redis reads nothing else in
 * such a file (not even comments): acl/README.md says where it comes from.
 */
export function aclFile(c: NameConfig): string {
  checkNames('aclFile', c);
  return ACL_ROLES.map((r) => `user ${ACL_USERS[r]} ${aclRule(r, c)}\n`).join('');
}

/** for the check that every script has a role */
export const SCRIPT_NAMES = Object.keys(SCRIPTS) as ScriptName[];
