#!/usr/bin/env node
/**
 * The `task-swarm` command: run a worker or a monitor, submit tasks, read, follow, wait for and
 * control them, read or retry the dead-letter list, and order the queue: limits, pause, resume; and set schedules.
 *
 * Every mistake a user can make ends in one line on stderr, `task-swarm: <message>`, and exit
 * status 2 (usage: unknown command or option, bad value, bad JSON) or 1 (runtime: Redis
 * unreachable, unknown task, task failed, timeout). No stack traces (TASK_SWARM_DEBUG=1 shows
 * them). What is read from Redis goes through total formatters: junk there prints as junk and
 * the command goes on.
 *
 * `main` is the whole command and returns its exit status, so tests can run it in-process; the
 * bin entry at the bottom only turns that status into the process's.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, type TaskInfo } from './client.js';
import type { Limit, LimitInfo, LimitTarget } from './effects/limits.js';
import type { ScheduleInfo, ScheduleOptions, ScheduleSpec } from './schedule.js';
import { MONITOR_FIELDS, resolveRedisConfig, WORKER_FIELDS, type RedisOptions } from './config.js';
import { ConfigError, InvalidTaskError, TaskNotFoundError, TaskSwarmError } from './errors.js';
import { Monitor, type MonitorOptions } from './monitor.js';
import type { TaskFunction } from './task.js';
import { Worker, type WorkerOptions } from './worker.js';
import type { ControlInput } from './wire.js';
import { probeOnce, redisAddress, tlsHint } from './redis.js';
import { CLUSTER_PROTOCOL, parseSentinelList, SENTINEL_PROTOCOL } from './redis-forms.js';
import type { BackoffOption, SubmitOptions } from './submission.js';
import { within } from './within.js';

const PROG = 'task-swarm';
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** A mistake in the command line: exit status 2. */
class UsageError extends Error {}
/** Something that went wrong while running: exit status 1. */
class RuntimeError extends Error {}

// ------------------------------------------------------------------------------ options

type OptionSpec = { type: 'string' | 'boolean'; short?: string; multiple?: boolean; arg?: string; doc: string };

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  'redis-url': { type: 'string', arg: 'url', doc: `Redis to use (env REDIS_URL; default ${DEFAULT_REDIS_URL}); keep the password out of it` },
  'redis-password-file': { type: 'string', arg: 'path', doc: "file holding the Redis password (or env REDIS_PASSWORD); overrides the URL's" },
  'redis-tls-ca': { type: 'string', arg: 'path', doc: 'with a rediss:// URL: PEM file of the CA that signed the server certificate (default: the system CAs)' },
  'redis-tls-cert': { type: 'string', arg: 'path', doc: 'with a rediss:// URL: PEM file of the client certificate (with --redis-tls-key)' },
  'redis-tls-key': { type: 'string', arg: 'path', doc: 'with a rediss:// URL: PEM file of the client certificate\'s key' },
  'redis-tls-servername': { type: 'string', arg: 'name', doc: 'with a rediss:// URL: the name the server certificate must carry' },
  'redis-sentinels': { type: 'string', arg: 'h:p,h:p', doc: 'Redis Sentinel: ask these for the primary named --redis-name (instead of a URL; or REDIS_URL=redis+sentinel://h:p,h:p/name)' },
  'redis-cluster': { type: 'string', arg: 'h:p,h:p', doc: 'Redis Cluster: learn the cluster from these nodes (instead of a URL; or REDIS_URL=redis+cluster://h:p,h:p)' },
  'redis-name': { type: 'string', arg: 'name', doc: 'with --redis-sentinels: the name of the primary the sentinels monitor, e.g. mymaster' },
  'redis-durable': { type: 'string', arg: 'n', doc: 'replicas that must acknowledge each submit and END (WAIT; true = 1); default 0' },
  'redis-durable-timeout': { type: 'string', arg: 'ms', doc: 'with --redis-durable: ms to wait for them (default 1000)' },
  'redis-sentinel-password-file': { type: 'string', arg: 'path', doc: 'with sentinels: file holding the sentinels\' password (or env REDIS_SENTINEL_PASSWORD)' },
  'key-prefix': { type: 'string', arg: 'prefix', doc: 'prepended to every key and channel' },
  'new-queue': { type: 'string', arg: 'name', doc: 'list of new tasks (default new-task)' },
  'task-set': { type: 'string', arg: 'name', doc: 'set of claimed task ids (default tasks)' },
  'task-prefix': { type: 'string', arg: 'prefix', doc: 'prefix of task hashes and channels (default task-)' },
  'end-queue': { type: 'string', arg: 'name', doc: 'set of ended manual_end tasks (default end-task)' },
  'worker-set': { type: 'string', arg: 'name', doc: 'set of workers (default workers)' },
  help: { type: 'boolean', short: 'h', doc: 'show help' },
};

/** `--concurrency` etc., generated from the config schema so they never drift from it */
function fieldOptions(fields: Record<string, { kind: string; doc: string }>): Record<string, OptionSpec> {
  const out: Record<string, OptionSpec> = {};
  for (const [key, f] of Object.entries(fields)) {
    out[kebab(key)] = { type: 'string', arg: f.kind === 'string' ? 'value' : 'n', doc: f.doc.replace(/`/g, '') };
  }
  return out;
}

const JSON_OPTION: OptionSpec = { type: 'boolean', doc: 'print JSON' };
const LOG_OPTION: OptionSpec = { type: 'string', arg: 'level', doc: 'log level: debug, info, warn, error or silent (env TASK_SWARM_LOG; default info)' };
const SECRET_OPTIONS: Record<string, OptionSpec> = {
  'secret-file': { type: 'string', arg: 'path', doc: 'file holding the shared secret authenticating peer pings (or env TASK_SWARM_SECRET)' },
  secret: { type: 'string', arg: 'secret', doc: 'the secret itself: visible to other users in ps, prefer the two above' },
};

/** Where secrets come from, in the help of every command (anything in argv shows in `ps`). */
const REDIS_SECRET_HELP =
  'Secrets: the command line is visible to other users (ps). Give the Redis password with env\n' +
  'REDIS_PASSWORD or --redis-password-file <path>, not inside --redis-url.';
const PEER_SECRET_HELP = 'Give the peer secret with env TASK_SWARM_SECRET or --secret-file <path>, not --secret.';

interface Command {
  args: string;
  summary: string;
  details?: string;
  options: Record<string, OptionSpec>;
  run(ctx: Context): Promise<number>;
}

interface Context {
  positionals: string[];
  values: Record<string, string | boolean | string[] | undefined>;
  /** url (or sentinels), and username/password when they were given apart from it, TLS files */
  redis: RedisOptions;
  io: CliIO;
}

/** Where the command writes and what environment it reads: the process's, or a test's. */
export interface CliIO {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: Record<string, string | undefined>;
}

/** what a task carries, for `submit` and `schedule` alike (the library's SubmitOptions) */
const TASK_OPTIONS = {
  priority: { type: 'string', arg: 'n', doc: 'an integer from -1000 to 1000, higher runs sooner (default 0)' },
  group: { type: 'string', arg: 'name', doc: 'fairness group, e.g. a tenant: the groups with queued tasks take turns' },
  attempts: { type: 'string', arg: 'n', doc: 'tries in all when the function throws, times out or its worker dies (default 1)' },
  backoff: { type: 'string', arg: 'ms|exponential:ms[:max]', doc: 'the wait before each retry: fixed ms, or doubled after each failure up to max (default 0)' },
  timeout: { type: 'string', arg: 'ms', doc: 'per attempt: abort it after ms, fail it abortTimeout later (default none)' },
  'manual-end': { type: 'boolean', doc: 'keep the task hash after it ends, listed in end-task' },
} as const;

const COMMANDS: Record<string, Command> = {
  worker: {
    args: '--functions <module> [options]',
    summary: 'run a worker with the task functions a module exports',
    details:
      'The module (.js, .mjs, or .ts when tsx is installed) exports task functions: each named export that\n' +
      'is a function is registered under its export name; a default export that is an object registers\n' +
      'its function properties by key; a default export that is a function registers under its name (or\n' +
      'the file name when anonymous). SIGINT/SIGTERM stop the worker gracefully; a second one exits at once.',
    options: {
      functions: { type: 'string', short: 'f', multiple: true, arg: 'module', doc: 'module exporting task functions (repeatable)' },
      ...fieldOptions(WORKER_FIELDS),
      ...SECRET_OPTIONS,
      log: LOG_OPTION,
    },
    run: runWorker,
  },
  monitor: {
    args: '[options]',
    summary: 'run a monitor, which requeues the tasks of dead workers',
    details: 'SIGINT/SIGTERM stop it; a second one exits at once.',
    options: { ...fieldOptions(MONITOR_FIELDS), ...SECRET_OPTIONS, log: LOG_OPTION },
    run: runMonitor,
  },
  submit: {
    args: '<function> [json-data] [options]',
    summary: 'queue a task; prints its id',
    details:
      'json-data is the task\'s data as JSON, e.g. \'{"frame":1}\' (default null).\nWith --wait: exit status 1 unless the task succeeded (or was cancelled).',
    options: {
      id: { type: 'string', arg: 'id', doc: 'your own task id (default: a random one)' },
      ...TASK_OPTIONS,
      delay: { type: 'string', arg: 'ms', doc: 'start no sooner than ms from now (Redis time)' },
      'run-at': { type: 'string', arg: 'time', doc: 'start no sooner than this time: ISO 8601 or epoch ms (Redis time)' },
      key: { type: 'string', arg: 'key', doc: 'dedupe key: while a task with it is queued, delayed or running, print its id instead' },
      wait: { type: 'boolean', doc: 'wait for the end, showing events on stderr; print the task as JSON' },
      'wait-timeout': { type: 'string', arg: 'ms', doc: 'with --wait: give up after this many ms (default: never)' },
    },
    run: runSubmit,
  },
  get: {
    args: '<id>',
    summary: 'print a task as JSON',
    options: {},
    run: runGet,
  },
  wait: {
    args: '<id> [--timeout ms]',
    summary: 'wait for a task to end (its events on stderr); print it as JSON',
    details: 'Exit status 0 when it succeeded, 1 when it failed, was stopped or the timeout passed.',
    options: { timeout: { type: 'string', arg: 'ms', doc: 'give up after this many ms (default: never)' } },
    run: runWait,
  },
  cancel: {
    args: '<id>',
    summary: 'cancel a task: queued or delayed, it is removed (ends cancelled); running, it is stopped',
    details: 'Exit status 0 when it was cancelled or stopped, 1 when it had already ended.',
    options: {},
    run: runCancel,
  },
  control: {
    args: '<id> stop|reload|<json>',
    summary: 'send a running task a control message',
    details: 'json is a custom event: \'{"event_name":"pause","event":{...}}\'.',
    options: {},
    run: runControl,
  },
  events: {
    args: '<id> [--timeout ms]',
    summary: "print a task's events as JSON lines until it ends (Ctrl-C to stop)",
    details: 'Exit status 0 when it ended (or had already), 1 when the timeout passed first.',
    options: { timeout: { type: 'string', arg: 'ms', doc: 'give up after this many ms (default: never)' } },
    run: runEvents,
  },
  dead: {
    args: '[--limit N] [--json]',
    summary: 'list the dead letters, newest first, each with its key',
    details: 'A key names its entry for good: `retry-dead <key>` and `purge-dead <key>` take it, whatever was parked since.',
    options: {
      limit: { type: 'string', arg: 'n', doc: 'show at most n entries (default 20)' },
      json: JSON_OPTION,
    },
    run: runDead,
  },
  'retry-dead': {
    args: '<key>',
    summary: 'put the task of dead letter <key> (as listed by `dead`) back on the queue',
    options: {},
    run: runRetryDead,
  },
  'purge-dead': {
    args: '<key>',
    summary: 'delete dead letter <key>, and its parked task with it',
    options: {},
    run: runPurgeDead,
  },
  limit: {
    args: '<function> | --group <name>  --concurrency n | --rate max/ms | --remove',
    summary: 'set (or remove) a swarm-wide limit on a function or a group',
    details:
      'Enforced where tasks start, across all workers: at most --concurrency tasks of the function (or\n' +
      'group, across functions) run at once, at most max start in any ms milliseconds (--rate 100/1000;\n' +
      'the window may also be written 1s or 1m). Setting a limit replaces the one set before.',
    options: {
      group: { type: 'string', arg: 'name', doc: 'limit this group (across functions) instead of a function' },
      concurrency: { type: 'string', arg: 'n', doc: 'at most n tasks running at once' },
      rate: { type: 'string', arg: 'max/ms', doc: 'at most max starts in any window of ms milliseconds' },
      remove: { type: 'boolean', doc: 'remove the limit' },
    },
    run: runLimit,
  },
  limits: {
    args: '[--json]',
    summary: 'list the limits set, each with its tasks running now',
    options: { json: JSON_OPTION },
    run: runLimits,
  },
  pause: {
    args: '[<function>]',
    summary: 'stop new claims across the swarm, or of one function; running tasks go on',
    options: {},
    run: (ctx) => runPause(ctx, 'pause'),
  },
  resume: {
    args: '[<function>]',
    summary: 'let paused claims go on; idle workers start at once',
    options: {},
    run: (ctx) => runPause(ctx, 'resume'),
  },
  schedule: {
    args: '<name> <function> [json-data]  --cron <expr> [--tz zone] | --every <ms>  [options]',
    summary: 'queue a task at every tick of a cron expression or every n ms (the monitors fire it)',
    details:
      'The cron expression is croner\'s: 5 fields, or 6 with seconds first (--cron "0 3 * * *"), read\n' +
      'in --tz (an IANA zone, default UTC). Each tick fires once whatever the number of monitors (at\n' +
      'least one must run); ticks missed while none ran fire once, for the latest. Setting the same\n' +
      'schedule again changes nothing; a changed one starts over from its next tick.',
    options: {
      cron: { type: 'string', arg: 'expr', doc: 'a cron expression, e.g. "0 3 * * *" (not with --every)' },
      tz: { type: 'string', arg: 'zone', doc: 'the time zone of --cron, e.g. Europe/Berlin (default UTC)' },
      every: { type: 'string', arg: 'ms', doc: 'every this many ms (not with --cron)' },
      overlap: { type: 'string', arg: 'allow|skip', doc: 'skip: skip a tick while the last task is queued or running (default allow)' },
      ...TASK_OPTIONS,
    },
    run: runSchedule,
  },
  unschedule: {
    args: '<name>',
    summary: 'remove a schedule: none of its ticks fires from now on',
    options: {},
    run: runUnschedule,
  },
  schedules: {
    args: '[--json]',
    summary: 'list the schedules: when each fires next, and what it queued last',
    options: { json: JSON_OPTION },
    run: runSchedules,
  },
  status: {
    args: '[--json]',
    summary: 'counts: queued, claimed, workers, dead letters, manually ended; per function',
    options: { json: JSON_OPTION },
    run: runStatus,
  },
};

// ------------------------------------------------------------------------------ help

function optionLines(options: Record<string, OptionSpec>): string[] {
  return Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` <${o.arg ?? 'value'}>` : ''}`;
    return `  ${flag.padEnd(34)} ${o.doc}`;
  });
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    `Usage: ${PROG} <command> [arguments] [options]`,
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Options of every command:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    `"${PROG} <command> --help" shows a command's own options.`,
    '',
    'Examples:',
    `  ${PROG} worker --functions ./tasks.js --port 6001 --concurrency 4`,
    `  ${PROG} monitor --task-timeout 10000`,
    `  ${PROG} submit render '{"frame":1}' --wait`,
    `  ${PROG} control <id> stop`,
    '',
    REDIS_SECRET_HELP,
    PEER_SECRET_HELP,
    '',
    'Exit status: 0 ok, 1 runtime error (Redis unreachable, unknown task, task failed), 2 usage error.',
    `"${PROG} --version" prints the version.`,
  ].join('\n');
}

function commandUsage(name: string, c: Command): string {
  return [
    `Usage: ${PROG} ${name} ${c.args}`,
    '',
    c.summary[0]!.toUpperCase() + c.summary.slice(1) + '.',
    ...(c.details ? ['', c.details] : []),
    ...(Object.keys(c.options).length ? ['', 'Options:', ...optionLines(c.options)] : []),
    '',
    'Options of every command:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    REDIS_SECRET_HELP,
    ...('secret' in c.options ? [PEER_SECRET_HELP] : []),
  ].join('\n');
}

// ------------------------------------------------------------------------------ parsing helpers

/** Node timers hold at most 2^31-1 ms; a longer one fires at once (with a multi-line warning). */
const MAX_TIMEOUT = 2 ** 31 - 1;

function parseInteger(name: string, raw: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^-?\d+$/.test(raw.trim())) throw new UsageError(`${name} must be an integer, got ${quote(raw)}`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${name} must be an integer >= ${min}, got ${quote(raw)}`);
  if (n > max) throw new UsageError(`${name} must be an integer <= ${max}, got ${quote(raw)}`);
  return n;
}

function parseTimeout(values: Context['values']): number | undefined {
  return typeof values.timeout === 'string' ? parseInteger('--timeout', values.timeout, 1, MAX_TIMEOUT) : undefined;
}

/** The task options of TASK_OPTIONS, as the library takes them (it checks their ranges). */
function taskOptions(v: Context['values']): SubmitOptions {
  const o: SubmitOptions = {};
  if (typeof v.priority === 'string') o.priority = parseInteger('--priority', v.priority, -1000, 1000);
  if (typeof v.group === 'string') o.group = v.group;
  if (typeof v.attempts === 'string') o.attempts = parseInteger('--attempts', v.attempts, 1, 1000);
  if (typeof v.backoff === 'string') o.backoff = parseBackoff(v.backoff);
  if (typeof v.timeout === 'string') o.timeout = parseInteger('--timeout', v.timeout, 1, MAX_TIMEOUT);
  if (v['manual-end'] === true) o.manualEnd = true;
  return o;
}

/** `--backoff`: ms (fixed), or exponential:ms[:max] */
function parseBackoff(raw: string): BackoffOption {
  const m = /^exponential:(\d+)(?::(\d+))?$/.exec(raw.trim());
  if (m) return { type: 'exponential', delay: parseInteger('--backoff delay', m[1]!, 0, MAX_TIMEOUT), ...(m[2] !== undefined ? { max: parseInteger('--backoff max', m[2], 0, MAX_TIMEOUT) } : {}) };
  if (/^-?\d+$/.test(raw.trim())) return parseInteger('--backoff', raw, 0, MAX_TIMEOUT);
  throw new UsageError(`--backoff must be ms (fixed) or exponential:ms[:max], got ${quote(raw)}`);
}

/** `--run-at`: ISO 8601 or epoch ms */
function parseRunAt(raw: string): number {
  const t = /^\d+$/.test(raw.trim()) ? Number(raw) : Date.parse(raw);
  if (!Number.isSafeInteger(t) || t < 0) throw new UsageError(`--run-at must be an ISO 8601 time or epoch ms, got ${quote(raw)}`);
  return t;
}

function parseJson(what: string, raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (e) {
    throw new UsageError(`${what} is not valid JSON (${(e as Error).message}): ${escapeControls(raw.length > 60 ? `${raw.slice(0, 60)}…` : raw)}`);
  }
}

/** Options from a config schema, as the Worker/Monitor constructor wants them. */
function fieldValues(fields: Record<string, { kind: string }>, values: Context['values']): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [key, f] of Object.entries(fields)) {
    const raw = values[kebab(key)];
    if (typeof raw !== 'string') continue;
    out[key] = f.kind === 'string' ? raw : parseInteger(`--${kebab(key)}`, raw);
  }
  return out;
}

function positional(ctx: Context, index: number, name: string, command: string): string {
  const v = ctx.positionals[index];
  if (v === undefined || v === '') throw new UsageError(`${command}: missing ${name} (usage: ${PROG} ${command} ${COMMANDS[command]!.args})`);
  return v;
}

function noMorePositionals(ctx: Context, count: number, command: string): void {
  const extra = ctx.positionals.slice(count);
  if (extra.length) throw new UsageError(`${command}: unexpected argument ${quote(extra[0]!)} (usage: ${PROG} ${command} ${COMMANDS[command]!.args})`);
}

/** a url with its credentials masked: the userinfo, and a ?password= (ioredis takes it as the password) */
const redact = (url: string) => url.replace(/\/\/[^@/]*@/, '//***@').replace(/([?&]password=)[^&#]*/gi, '$1***');

// ------------------------------------------------------------------------------ secrets

/**
 * A secret kept in a file (so it is not in argv, which `ps` shows to everyone): its content
 * without the trailing newline an editor or `echo` adds. Unreadable or empty is a usage error.
 */
function readSecretFile(flag: string, path: string): string {
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = { ENOENT: 'no such file', EISDIR: 'a directory', EACCES: 'permission denied' }[code ?? ''] ?? (e as Error).message.split('\n')[0];
    throw new UsageError(`${flag} ${quote(path)}: cannot read it (${why})`);
  }
  const secret = content.replace(/(?:\r?\n)+$/, '');
  if (secret === '') throw new UsageError(`${flag} ${quote(path)}: the file is empty`);
  return secret;
}

/** The peer secret: --secret, --secret-file, or env TASK_SWARM_SECRET, in that order. */
function secretOf(ctx: Context): string | undefined {
  const { secret, 'secret-file': file } = ctx.values;
  if (typeof secret === 'string' && typeof file === 'string') throw new UsageError('--secret and --secret-file both given: use one (--secret-file keeps it out of ps)');
  if (typeof file === 'string') return readSecretFile('--secret-file', file);
  const s = secret ?? ctx.io.env.TASK_SWARM_SECRET;
  return typeof s === 'string' && s !== '' ? s : undefined;
}

/**
 * The Redis connection from --redis-url / REDIS_URL and a password given apart from it
 * (--redis-password-file, else env REDIS_PASSWORD). ioredis lets a URL's credentials win over
 * its options, so a password given apart takes the credentials out of the URL and passes both
 * as options.
 */
function redisConnection(raw: string, url: URL, values: Context['values'], env: CliIO['env']): { url: string; username?: string; password?: string } {
  const file = values['redis-password-file'];
  const password = typeof file === 'string' ? readSecretFile('--redis-password-file', file) : env.REDIS_PASSWORD || undefined;
  if (password === undefined) return { url: raw };
  const bare = new URL(url.href);
  const username = decodeURIComponent(bare.username) || undefined;
  bare.username = '';
  bare.password = '';
  bare.searchParams.delete('password');
  return { url: bare.href, username, password };
}

/**
 * Where Redis is, from the command line and the environment: --redis-sentinels (with
 * --redis-name), else --redis-url, else REDIS_URL (redis://, rediss:// or redis+sentinel://),
 * else the default; then the secrets and TLS files given apart.
 */
function redisOptions(values: Context['values'], env: CliIO['env'], warnings: string[]): Context['redis'] {
  const typedUrl = values['redis-url'] as string | undefined;
  const sentinels = values['redis-sentinels'] as string | undefined;
  const cluster = values['redis-cluster'] as string | undefined;
  const name = values['redis-name'] as string | undefined;
  let redis: { -readonly [K in keyof RedisOptions]: RedisOptions[K] };
  if (cluster !== undefined) {
    if (typedUrl !== undefined) throw new UsageError('--redis-cluster and --redis-url both say where Redis is: give one');
    if (sentinels !== undefined) throw new UsageError('--redis-cluster and --redis-sentinels both say where Redis is: give one');
    redis = { cluster: parseSentinelList(cluster, '--redis-cluster') };
    const password = secretFrom(values, env, 'redis-password-file', 'REDIS_PASSWORD');
    if (password !== undefined) redis.password = password;
  } else if (sentinels !== undefined) {
    if (typedUrl !== undefined) throw new UsageError('--redis-sentinels and --redis-url both say where Redis is: give one');
    if (name === undefined) throw new UsageError('--redis-sentinels needs --redis-name <name>: the primary the sentinels monitor (e.g. mymaster)');
    redis = { sentinels: parseSentinelList(sentinels, '--redis-sentinels'), name };
    const password = secretFrom(values, env, 'redis-password-file', 'REDIS_PASSWORD');
    if (password !== undefined) redis.password = password;
  } else {
    const redisUrl = typedUrl ?? env.REDIS_URL ?? DEFAULT_REDIS_URL;
    if ([SENTINEL_PROTOCOL, CLUSTER_PROTOCOL].some((p) => redisUrl.toLowerCase().startsWith(`${p}//`))) {
      if (typedUrl !== undefined && /\/\/[^@/]*:[^@/]*@/.test(redisUrl)) {
        warnings.push('the password in --redis-url is visible to other users in ps; use --redis-password-file <path> or env REDIS_PASSWORD instead');
      }
      // the library reads a sentinel or cluster url (src/redis-forms.ts); a password given apart wins
      redis = { url: redisUrl };
      const password = secretFrom(values, env, 'redis-password-file', 'REDIS_PASSWORD');
      if (password !== undefined) {
        const m = /^([^:]+:\/\/)(?:[^@/]*@)?(.*)$/s.exec(redisUrl)!;
        const user = /^[^:]+:\/\/([^:@/]*)(?::[^@/]*)?@/.exec(redisUrl)?.[1];
        redis = { url: m[1]! + (user ? `${user}@` : '') + m[2]!, password };
      }
    } else {
      let u: URL;
      try {
        u = new URL(redisUrl);
      } catch {
        throw new UsageError(`Redis URL must look like redis://[user:password@]host:port[/db], got ${quote(redact(redisUrl))}`);
      }
      if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
        throw new UsageError(`Redis URL must start with redis://, rediss://, ${SENTINEL_PROTOCOL}// or ${CLUSTER_PROTOCOL}//, got ${quote(redact(redisUrl))}`);
      }
      if (typedUrl !== undefined && hasPassword(u)) {
        warnings.push('the password in --redis-url is visible to other users in ps; use --redis-password-file <path> or env REDIS_PASSWORD instead');
      }
      redis = redisConnection(redisUrl, u, values, env);
    }
  }
  if (name !== undefined && sentinels === undefined) throw new UsageError('--redis-name only goes with --redis-sentinels');
  // (REDIS_SENTINEL_PASSWORD, like any variable of the environment, counts only where it applies:
  // a shell that sets it for a Sentinel deployment may still run a command against one Redis)
  const viaSentinels = redis.sentinels !== undefined || (redis.url ?? '').toLowerCase().startsWith(`${SENTINEL_PROTOCOL}//`);
  const sentinelPassword = secretFrom(values, viaSentinels ? env : {}, 'redis-sentinel-password-file', 'REDIS_SENTINEL_PASSWORD');
  if (sentinelPassword !== undefined) redis.sentinelPassword = sentinelPassword;
  const tls: Record<string, string> = {};
  for (const k of ['ca', 'cert', 'key', 'servername'] as const) {
    const v = values[`redis-tls-${k}`];
    if (typeof v === 'string') tls[k] = v;
  }
  if (Object.keys(tls).length > 0) redis.tls = tls;
  const durable = values['redis-durable'] as string | undefined;
  // (true and false as the library takes them: one replica, none)
  if (durable !== undefined) redis.durable = durable === 'true' ? 1 : durable === 'false' ? 0 : parseInteger('--redis-durable', durable);
  if (values['redis-durable-timeout'] !== undefined) redis.durableTimeout = parseInteger('--redis-durable-timeout', values['redis-durable-timeout'] as string);
  return redis;
}

/** a secret from --<flag> <path>, else env `envName` (an empty one counts as none) */
function secretFrom(values: Context['values'], env: CliIO['env'], flag: string, envName: string): string | undefined {
  const file = values[flag];
  return typeof file === 'string' ? readSecretFile(`--${flag}`, file) : env[envName] || undefined;
}

/** Whether a URL typed on the command line carries a password (userinfo or ?password=). */
const hasPassword = (url: URL) => url.password !== '' || url.searchParams.has('password');

// ------------------------------------------------------------------------------ Redis

/** Fail fast, with one clear line, when Redis is not there: one ping, no reconnects. */
async function checkRedis(redis: Context['redis']): Promise<void> {
  const config = resolveRedisConfig(redis);
  try {
    await probeOnce(config, 3000);
  } catch (e) {
    if (e instanceof TaskSwarmError) throw e; // the server's version: its message names the server
    const err = e as Error;
    // (OpenSSL's messages end in a newline: the line printed would stop there)
    const msg = (err as NodeJS.ErrnoException).code === 'ETIMEDOUT' ? 'connection timed out' : err.message.trim().replace(/\s*\n\s*/g, ' ');
    throw new RuntimeError(`cannot reach Redis at ${escapeControls(config.url !== undefined ? redact(config.url) : redisAddress(config))}: ${msg}${tlsHint(config, msg)}`);
  }
}

async function withClient<T>(ctx: Context, fn: (client: Client) => Promise<T>): Promise<T> {
  await checkRedis(ctx.redis);
  const client = new Client({ redis: ctx.redis });
  try {
    return await fn(client);
  } finally {
    await within(1000, client.close());
  }
}

async function requireTask(client: Client, id: string): Promise<TaskInfo> {
  const t = await client.get(id);
  if (!t) throw new TaskNotFoundError(id);
  return t;
}

// ------------------------------------------------------------------------------ output
//
// Everything printed from Redis goes through these, and they are total: an event, a task or a
// dead letter is whatever someone wrote there (PUBLISH, HSET, LPUSH by hand, a bug, an older
// version), so it may be any JSON, a time out of Date's range, or nesting deeper than
// JSON.stringify's stack. It still prints as one line (or one JSON document) and the command
// goes on.

/** Deeper than this, a value read from Redis is shown as a marker: stringify recurses. */
const MAX_SHOWN_DEPTH = 64;

function bounded(v: unknown, depth: number): unknown {
  if (v === null || typeof v !== 'object') return typeof v === 'bigint' ? String(v) : v;
  if (depth >= MAX_SHOWN_DEPTH) return `(nested deeper than ${MAX_SHOWN_DEPTH} levels)`;
  if (Array.isArray(v)) return v.map((x) => bounded(x, depth + 1));
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, bounded(x, depth + 1)]));
}

/** JSON text of anything; never throws (what stringify cannot do is cut at a bounded depth). */
function showJson(v: unknown, indent?: number): string {
  try {
    return JSON.stringify(v, null, indent) ?? 'null';
  } catch {
    try {
      return JSON.stringify(bounded(v, 0), null, indent) ?? 'null';
    } catch {
      return '"(unprintable)"';
    }
  }
}

/** Control characters (newlines above all) shown as escapes, so a value stays on its line. */
function escapeControls(s: string): string {
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  return s.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => {
    const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
    return named[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

/** A string in double quotes, escaped like JSON: user input and Redis strings in messages. */
const quote = (s: string) => escapeControls(JSON.stringify(s));

/** Any value as text for a human line: strings as they are (escaped), the rest as JSON. */
function text(v: unknown): string {
  return typeof v === 'string' ? escapeControls(v) : showJson(v);
}

/** An ISO time for `at` (ms since epoch), or undefined when it is not one Date can show. */
function isoTime(at: unknown): string | undefined {
  if (typeof at !== 'number') return undefined;
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** "2024-05-01 12:00:00", or "?" */
function dateTime(at: unknown): string {
  const iso = isoTime(at);
  return iso ? iso.slice(0, iso.lastIndexOf('.')).replace('T', ' ') : '?';
}

/** "12:00:00.123", or "?" */
function clockTime(at: unknown): string {
  const iso = isoTime(at);
  return iso ? iso.slice(iso.indexOf('T') + 1, -1) : '?';
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Whether an event (any value) is the final `end` */
const isEnd = (ev: unknown) => isObject(ev) && ev.event === 'end';

function eventLine(id: string, ev: unknown): string {
  if (!isObject(ev)) return `? ${escapeControls(id)} (not an event) ${showJson(ev)}`;
  const { event, data, at } = ev;
  const name = typeof event === 'string' ? escapeControls(event) : `(event name ${showJson(event)})`;
  return `${clockTime(at)} ${escapeControls(id)} ${name}${data === null || data === undefined ? '' : ` ${showJson(data)}`}`;
}

function printJson(io: CliIO, v: unknown): void {
  io.stdout.write(showJson(v, 2) + '\n');
}

/** The task as JSON on stdout; 0 when it succeeded, else a one-line reason and 1. */
function reportEnd(io: CliIO, t: TaskInfo): number {
  const { raw: _raw, ...shown } = t;
  printJson(io, shown);
  if (t.outcome === 'succeeded') return 0;
  // a stored error that is not one the runtime writes (edited by hand) is shown as stored
  const message: unknown = isObject(t.error) ? t.error.message : isObject(t.invalid) ? t.invalid.error : undefined;
  const why = message === undefined || message === null || message === '' ? '' : `: ${text(message)}`;
  const parked = isObject(t.parked) ? ` (parked as ${text(t.parked.reason)}; \`${PROG} retry-dead ${text(t.parked.key)}\` queues it again)` : '';
  io.stderr.write(`${PROG}: task ${quote(t.id)} ended ${t.outcome ? text(t.outcome) : 'without an outcome'}${parked}${why}\n`);
  return 1;
}

/** Wait for the end of a task, printing its other events on stderr. */
async function waitFor(io: CliIO, client: Client, id: string, timeout: number | undefined, fn?: string): Promise<TaskInfo> {
  const off = client.subscribe(id, (ev: unknown) => {
    if (!isEnd(ev)) io.stderr.write(eventLine(id, ev) + '\n');
  });
  try {
    const waiting = client.wait(id, { timeout });
    await explainWait(io, client, id, fn);
    return await waiting;
  } finally {
    off();
  }
}

/** A task that cannot start now says why, once: no live worker serves its function, or it is paused. */
async function explainWait(io: CliIO, client: Client, id: string, fn?: string): Promise<void> {
  try {
    const t = await client.get(id);
    if (t?.state === 'END' || t?.state === 'RUNNING') return;
    const name = fn ?? t?.function;
    if (name === undefined) return;
    const s = await client.stats();
    const f = s.functions[name];
    if (!f || f.workers === 0) io.stderr.write(`task ${quote(id)} waits, QUEUED: no live worker serves function ${quote(name)} (it runs when one that does starts)\n`);
    else if (s.paused || f.paused) io.stderr.write(`task ${quote(id)} waits, QUEUED: ${s.paused ? 'the swarm is' : `function ${quote(name)} is`} paused (\`${PROG} resume\`)\n`);
  } catch {
    // only a hint: the wait itself goes on
  }
}

// ------------------------------------------------------------------------------ commands

/**
 * Start a worker or monitor and run it until SIGINT/SIGTERM: the first stops it gracefully
 * (status 0, or 1 when stopping failed), a second one returns at once (130/143) and the bin
 * entry exits with it while the stop is still under way.
 */
async function runUntilSignal(io: CliIO, what: string, start: () => Promise<void>, stop: () => Promise<void>): Promise<number> {
  let settle: (code: number) => void = () => {};
  const stopped = new Promise<number>((resolve) => (settle = resolve));
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      io.stderr.write(`${PROG}: ${signal} again: exiting at once\n`);
      settle(signal === 'SIGINT' ? 130 : 143);
      return;
    }
    stopping = true;
    io.stderr.write(`${PROG}: ${signal}: stopping the ${what} (${signal} again to exit at once)\n`);
    stop().then(
      () => settle(0),
      (e: unknown) => {
        io.stderr.write(`${PROG}: error while stopping the ${what}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}\n`);
        settle(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  try {
    // A signal during start stops it too; start failing because of that stop is no error.
    await Promise.race([
      start().catch((e: unknown) => {
        if (!stopping) throw e;
      }),
      stopped,
    ]);
    return await stopped;
  } finally {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  }
}

function applyLogLevel(values: Context['values']): void {
  const level = values.log;
  if (typeof level !== 'string') return;
  const known = ['silly', 'trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
  if (!known.includes(level.toLowerCase())) throw new UsageError(`--log must be one of ${known.join(', ')}, got ${quote(level)}`);
  process.env.TASK_SWARM_LOG = level;
}

async function importModule(file: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(file).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ERR_UNKNOWN_FILE_EXTENSION' || !/\.[mc]?ts$/.test(file)) throw e;
  }
  // A TypeScript module outside tsx: load it through tsx, when tsx is installed.
  let tsImport: (specifier: string, parent: string) => Promise<unknown>;
  try {
    const api = 'tsx/esm/api';
    ({ tsImport } = (await import(api)) as { tsImport: typeof tsImport });
  } catch {
    throw new RuntimeError(`cannot load TypeScript module ${file}: install tsx (npm install tsx), or compile it to .js`);
  }
  return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
}

async function loadFunctions(paths: string[]): Promise<Map<string, TaskFunction>> {
  const found = new Map<string, { fn: TaskFunction; from: string }>();
  const add = (name: string, fn: TaskFunction, from: string) => {
    const prev = found.get(name);
    if (prev && prev.fn !== fn) throw new RuntimeError(`task function "${name}" is exported by both ${prev.from} and ${from}`);
    found.set(name, { fn, from });
  };
  for (const p of paths) {
    const file = resolve(p);
    if (!existsSync(file)) throw new RuntimeError(`--functions: no such file: ${p}`);
    let mod: Record<string, unknown>;
    try {
      mod = await importModule(file);
    } catch (e) {
      if (e instanceof RuntimeError) throw e;
      throw new RuntimeError(`cannot load --functions module ${p}: ${(e as Error).message.split('\n')[0]}`);
    }
    const before = found.size;
    for (const [name, v] of Object.entries(mod)) {
      if (name === 'default') continue;
      if (typeof v === 'function') add(name, v as TaskFunction, p);
    }
    const d = mod.default;
    if (typeof d === 'function') {
      const name = d.name && d.name !== 'default' ? d.name : basename(file, extname(file));
      add(name, d as TaskFunction, p);
    } else if (d && typeof d === 'object') {
      for (const [name, v] of Object.entries(d)) if (typeof v === 'function') add(name, v as TaskFunction, p);
    }
    if (found.size === before) throw new RuntimeError(`--functions module ${p} exports no functions`);
  }
  return new Map([...found].map(([name, { fn }]) => [name, fn]));
}

async function runWorker(ctx: Context): Promise<number> {
  noMorePositionals(ctx, 0, 'worker');
  const paths = ctx.values.functions as string[] | undefined;
  if (!paths?.length) throw new UsageError('worker: missing --functions <module> (a module exporting the task functions)');
  applyLogLevel(ctx.values);
  const options: WorkerOptions = { ...(fieldValues(WORKER_FIELDS, ctx.values) as WorkerOptions), redis: ctx.redis, secret: secretOf(ctx) };
  const worker = new Worker(options); // validates the options before anything is loaded
  const functions = await loadFunctions(paths);
  for (const [name, fn] of functions) worker.addTaskFunction(name, fn);
  await checkRedis(ctx.redis);
  return runUntilSignal(ctx.io, 'worker', () => worker.start(), () => worker.stop());
}

async function runMonitor(ctx: Context): Promise<number> {
  noMorePositionals(ctx, 0, 'monitor');
  applyLogLevel(ctx.values);
  const options: MonitorOptions = { ...(fieldValues(MONITOR_FIELDS, ctx.values) as MonitorOptions), redis: ctx.redis, secret: secretOf(ctx) };
  const monitor = new Monitor(options);
  await checkRedis(ctx.redis);
  return runUntilSignal(ctx.io, 'monitor', () => monitor.start(), () => monitor.stop());
}

async function runSubmit(ctx: Context): Promise<number> {
  const { io } = ctx;
  const fn = positional(ctx, 0, 'function name', 'submit');
  const rawData = ctx.positionals[1];
  noMorePositionals(ctx, 2, 'submit');
  const data = rawData === undefined ? undefined : parseJson('json-data', rawData);
  const v = ctx.values;
  const wait = v.wait === true;
  const waitTimeout = typeof v['wait-timeout'] === 'string' ? parseInteger('--wait-timeout', v['wait-timeout'], 1, MAX_TIMEOUT) : undefined;
  if (waitTimeout !== undefined && !wait) throw new UsageError('submit: --wait-timeout only goes with --wait');
  const options = taskOptions(v);
  if (typeof v.id === 'string') {
    if (v.id === '') throw new UsageError('submit: --id must not be empty');
    options.id = v.id;
  }
  if (typeof v.delay === 'string' && typeof v['run-at'] === 'string') throw new UsageError('submit: give --delay or --run-at, not both');
  if (typeof v.delay === 'string') options.delay = parseInteger('--delay', v.delay, 0, MAX_TIMEOUT);
  if (typeof v['run-at'] === 'string') options.runAt = parseRunAt(v['run-at']);
  if (typeof v.key === 'string') options.key = v.key;
  const timeout = waitTimeout;
  return withClient(ctx, async (client) => {
    const taskId = await client.submit(fn, data, options);
    if (!wait) {
      io.stdout.write(taskId + '\n');
      return 0;
    }
    io.stderr.write(`submitted ${escapeControls(taskId)}; waiting for its end\n`);
    return reportEnd(io, await waitFor(io, client, taskId, timeout, fn));
  });
}

async function runGet(ctx: Context): Promise<number> {
  const id = positional(ctx, 0, 'task id', 'get');
  noMorePositionals(ctx, 1, 'get');
  return withClient(ctx, async (client) => {
    const t = await requireTask(client, id);
    const { raw: _raw, ...shown } = t;
    printJson(ctx.io, shown);
    return 0;
  });
}

async function runWait(ctx: Context): Promise<number> {
  const id = positional(ctx, 0, 'task id', 'wait');
  noMorePositionals(ctx, 1, 'wait');
  const timeout = parseTimeout(ctx.values);
  return withClient(ctx, async (client) => {
    await requireTask(client, id);
    return reportEnd(ctx.io, await waitFor(ctx.io, client, id, timeout));
  });
}

async function runCancel(ctx: Context): Promise<number> {
  const id = positional(ctx, 0, 'task id', 'cancel');
  noMorePositionals(ctx, 1, 'cancel');
  return withClient(ctx, async (client) => {
    const r = await client.cancel(id);
    const said = { cancelled: 'cancelled', stopping: 'running: stop sent, it ends stopped', ended: 'had already ended: nothing done' }[r];
    ctx.io.stdout.write(`${quote(id)} ${said}\n`);
    return r === 'ended' ? 1 : 0;
  });
}

function parseControl(raw: string): ControlInput {
  if (raw === 'stop' || raw === 'reload') return raw;
  const v = parseJson('control message', raw);
  if (!v || typeof v !== 'object' || Array.isArray(v) || typeof (v as { event_name?: unknown }).event_name !== 'string' || (v as { event_name: string }).event_name === '') {
    throw new UsageError(`control message must be stop, reload or JSON {"event_name": "...", "event": ...}, got ${escapeControls(raw)}`);
  }
  return v as ControlInput;
}

async function runControl(ctx: Context): Promise<number> {
  const id = positional(ctx, 0, 'task id', 'control');
  const message = parseControl(positional(ctx, 1, 'message (stop, reload or JSON {"event_name", "event"})', 'control'));
  noMorePositionals(ctx, 2, 'control');
  return withClient(ctx, async (client) => {
    const t = await requireTask(client, id);
    if (t.state !== 'RUNNING') {
      const how = t.state === 'END' ? `has ended (${t.outcome ? text(t.outcome) : 'no outcome'})` : 'is queued, not running yet';
      throw new RuntimeError(`task ${quote(id)} ${how}: control messages only reach running tasks`);
    }
    await client.control(id, message);
    const shown = typeof message === 'string' ? message : `event ${quote(message.event_name)}`;
    ctx.io.stdout.write(`sent ${shown} to task ${escapeControls(id)} (running on ${t.worker ? text(t.worker) : '?'})\n`);
    return 0;
  });
}

async function runEvents(ctx: Context): Promise<number> {
  const { io } = ctx;
  const id = positional(ctx, 0, 'task id', 'events');
  noMorePositionals(ctx, 1, 'events');
  const timeout = parseTimeout(ctx.values);
  return withClient(ctx, async (client) => {
    let finish: (code: number) => void = () => {};
    let fail: (e: Error) => void = () => {};
    const done = new Promise<number>((resolve, reject) => ((finish = resolve), (fail = reject)));
    done.catch(() => {}); // the timeout may pass while the task is still being read: awaited below
    // every event is printed; the end is when the task's hash says so (an `end` event anyone can
    // publish is only a hint: Client.wait reads the hash)
    const off = client.subscribe(id, (ev: unknown) => io.stdout.write(showJson(ev) + '\n'));
    const stop = () => finish(130);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      const t = await client.get(id);
      if (t?.state === 'END') {
        io.stderr.write(`task ${escapeControls(id)} has already ended (${t.outcome ? text(t.outcome) : 'no outcome'}); "${PROG} get ${escapeControls(id)}" shows it\n`);
        return 0;
      }
      const shown = escapeControls(id);
      io.stderr.write(t ? `following task ${shown} (${text(t.state)}); Ctrl-C to stop\n` : `task ${shown} is not known (yet); waiting for its events; Ctrl-C to stop\n`);
      client.wait(id, { timeout }).then(() => finish(0), fail);
      return await done;
    } finally {
      off();
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  });
}

async function runDead(ctx: Context): Promise<number> {
  const { io } = ctx;
  noMorePositionals(ctx, 0, 'dead');
  const limit = typeof ctx.values.limit === 'string' ? parseInteger('--limit', ctx.values.limit, 1) : 20;
  return withClient(ctx, async (client) => {
    const [letters, { dead }] = await Promise.all([client.deadLetters({ limit }), client.stats()]);
    if (ctx.values.json === true) {
      printJson(io, letters);
      return 0;
    }
    if (letters.length === 0) {
      io.stdout.write('no dead letters\n');
      return 0;
    }
    for (const l of letters) io.stdout.write(deadLetterLine(l) + '\n');
    if (dead > letters.length) io.stdout.write(`(${dead - letters.length} older not shown; --limit ${dead} shows all)\n`);
    return 0;
  });
}

/** One dead letter as a line; its fields are whatever the store holds, so every one is optional. */
function deadLetterLine(l: unknown): string {
  const o = isObject(l) ? l : {};
  const id = o.id === undefined || o.id === null || o.id === '' ? '' : `id=${text(o.id)}  `;
  return `key ${text(o.key ?? '?')}  ${dateTime(o.at)}  ${text(o.reason ?? '?')}  ${id}${text(o.message ?? '')}`;
}

function deadKey(ctx: Context, command: string): string {
  const key = positional(ctx, 0, 'key (as listed by `dead`)', command);
  noMorePositionals(ctx, 1, command);
  if (!/^\d+$/.test(key)) throw new UsageError(`${command}: a dead letter's key is a number, as listed by \`${PROG} dead\`; got ${quote(key)}`);
  return key;
}

/** retry-dead and purge-dead: `act` on the dead letter named by its key, then say what it was (`done`). */
function runOnDead(ctx: Context, command: string, act: (client: Client, key: string) => Promise<boolean>, done: string): Promise<number> {
  const key = deadKey(ctx, command);
  return withClient(ctx, async (client) => {
    const letter = await client.deadLetter(key);
    if (!letter || !(await act(client, key))) throw new RuntimeError(`no dead letter with key ${key} (retried, purged or dropped already; \`${PROG} dead\` lists them)`);
    ctx.io.stdout.write(`${done} dead letter ${key}${letter.id ? ` (task ${text(letter.id)}, was ${text(letter.reason)})` : ` (${text(letter.reason)})`}\n`);
    return 0;
  });
}

function runRetryDead(ctx: Context): Promise<number> {
  return runOnDead(ctx, 'retry-dead', (client, key) => client.retryDead(key), 'requeued');
}

function runPurgeDead(ctx: Context): Promise<number> {
  return runOnDead(ctx, 'purge-dead', (client, key) => client.purgeDead(key), 'purged');
}

async function runStatus(ctx: Context): Promise<number> {
  noMorePositionals(ctx, 0, 'status');
  return withClient(ctx, async (client) => {
    const s = await client.stats();
    if (ctx.values.json === true) {
      printJson(ctx.io, s);
      return 0;
    }
    const out = (line: string) => ctx.io.stdout.write(line + '\n');
    out(`queued ${s.queued}  claimed ${s.tasks}  workers ${s.workers}  dead ${s.dead}  ended (manual_end) ${s.ended}${s.paused ? '  PAUSED (swarm)' : ''}`);
    const names = Object.keys(s.functions).sort();
    if (names.length === 0) return 0;
    const width = Math.max(8, ...names.map((n) => escapeControls(n).length));
    out(`${'function'.padEnd(width)}  ${'queued'.padStart(8)}  ${'running'.padStart(8)}  ${'delayed'.padStart(8)}  ${'workers'.padStart(8)}`);
    for (const n of names) {
      const f = s.functions[n]!;
      const notes = [f.paused ? 'paused' : '', f.queued > 0 && f.workers === 0 ? 'no live worker serves it: its tasks wait' : ''].filter(Boolean).join('; ');
      out(`${escapeControls(n).padEnd(width)}  ${String(f.queued).padStart(8)}  ${String(f.running).padStart(8)}  ${String(f.delayed).padStart(8)}  ${String(f.workers).padStart(8)}${notes ? `  (${notes})` : ''}`);
    }
    return 0;
  });
}

/** `100/1000`, `100/1s`, `5/1m`: max starts per window */
function parseRate(raw: string): { max: number; per: number } {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*(ms|s|m)?\s*$/.exec(raw);
  if (!m) throw new UsageError(`--rate must be max/ms, e.g. 100/1000 (or 100/1s), got ${quote(raw)}`);
  const per = Number(m[2]) * (m[3] === 's' ? 1000 : m[3] === 'm' ? 60_000 : 1);
  return { max: Number(m[1]), per };
}

function describeLimit(l: LimitInfo): string {
  const target = l.function !== undefined ? `function ${quote(l.function)}` : `group ${quote(l.group ?? '')}`;
  if (l.invalid !== undefined) return `${target}: not a limit, ignored by the claims: ${showJson(l.invalid).slice(0, 120)} (set it again or --remove it)`;
  const parts = [l.concurrency !== undefined ? `concurrency ${l.concurrency}` : '', l.rate ? `rate ${l.rate.max} per ${l.rate.per} ms` : ''].filter(Boolean);
  return `${target}: ${parts.join(', ') || 'nothing set'} (running ${l.running})`;
}

async function runLimit(ctx: Context): Promise<number> {
  const fn = ctx.positionals[0];
  noMorePositionals(ctx, 1, 'limit');
  const group = typeof ctx.values.group === 'string' ? ctx.values.group : undefined;
  if ((fn === undefined) === (group === undefined)) throw new UsageError(`limit: name a function or --group <name>, not ${fn === undefined ? 'neither' : 'both'} (usage: ${PROG} limit ${COMMANDS.limit!.args})`);
  const target: LimitTarget = fn !== undefined ? { function: fn } : { group: group! };
  const remove = ctx.values.remove === true;
  const limit: Limit = {};
  if (typeof ctx.values.concurrency === 'string') limit.concurrency = parseInteger('--concurrency', ctx.values.concurrency, 1);
  if (typeof ctx.values.rate === 'string') limit.rate = parseRate(ctx.values.rate);
  if (remove && Object.keys(limit).length) throw new UsageError('limit: --remove goes alone, without --concurrency or --rate');
  if (!remove && !Object.keys(limit).length) throw new UsageError('limit: give --concurrency n, --rate max/ms (or both), or --remove');
  return withClient(ctx, async (client) => {
    await client.setLimit(target, remove ? null : limit);
    const shown = (await client.limits()).find((l) => (fn !== undefined ? l.function === fn : l.group === group));
    ctx.io.stdout.write(shown ? describeLimit(shown) + '\n' : `${fn !== undefined ? `function ${quote(fn)}` : `group ${quote(group!)}`}: no limit\n`);
    return 0;
  });
}

/** A command that lists (limits, schedules): no arguments; the list as JSON with --json, else a line each, or `none` when empty. */
function runList<T>(ctx: Context, command: string, list: (client: Client) => Promise<T[]>, describe: (item: T) => string, none: string): Promise<number> {
  noMorePositionals(ctx, 0, command);
  return withClient(ctx, async (client) => {
    const items = await list(client);
    if (ctx.values.json === true) printJson(ctx.io, items);
    else if (items.length === 0) ctx.io.stdout.write(`${none}\n`);
    else for (const item of items) ctx.io.stdout.write(describe(item) + '\n');
    return 0;
  });
}

function runLimits(ctx: Context): Promise<number> {
  return runList(ctx, 'limits', (c) => c.limits(), describeLimit, 'no limits set');
}

async function runPause(ctx: Context, what: 'pause' | 'resume'): Promise<number> {
  const fn = ctx.positionals[0];
  noMorePositionals(ctx, 1, what);
  if (fn === '') throw new UsageError(`${what}: the function name must not be empty`);
  return withClient(ctx, async (client) => {
    const target = fn === undefined ? 'the swarm' : `function ${quote(fn)}`;
    if (what === 'pause') {
      await client.pause(fn);
      ctx.io.stdout.write(`paused ${target}: no new claims; running tasks go on\n`);
    } else ctx.io.stdout.write((await client.resume(fn)) ? `resumed ${target}\n` : `${target} was not paused\n`);
    if (what === 'resume' && fn !== undefined && (await client.stats()).paused) ctx.io.stderr.write(`${PROG}: warning: the swarm as a whole is still paused (\`${PROG} resume\`)\n`);
    return 0;
  });
}

function describeSchedule(s: ScheduleInfo): string {
  if (s.invalid !== undefined) return `${quote(s.name)}: not a schedule, never fired: ${escapeControls(s.invalid)} (set it again or unschedule it)`;
  const when = 'every' in s.spec ? `every ${s.spec.every} ms` : `cron ${quote(s.spec.cron)} ${s.spec.tz}`;
  const next = s.next === null ? 'no tick left' : `next ${isoTime(s.next) ?? '?'}`;
  const last = s.last === null ? 'not fired yet' : `last ${isoTime(s.last) ?? '?'} (${escapeControls(s.lastId ?? '')})`;
  const skipped = s.skipped ? `, ${s.skipped} skipped` : '';
  return `${quote(s.name)}: ${when} -> ${quote(s.fn)}${s.overlap === 'skip' ? ', overlap skip' : ''}; ${next}; ${last}${skipped}`;
}

async function runSchedule(ctx: Context): Promise<number> {
  const name = positional(ctx, 0, 'schedule name', 'schedule');
  const fn = positional(ctx, 1, 'function name', 'schedule');
  const rawData = ctx.positionals[2];
  noMorePositionals(ctx, 3, 'schedule');
  const data = rawData === undefined ? undefined : parseJson('json-data', rawData);
  const v = ctx.values;
  const cron = typeof v.cron === 'string' ? v.cron : undefined;
  const every = typeof v.every === 'string' ? v.every : undefined;
  if ((cron === undefined) === (every === undefined)) throw new UsageError(`schedule: give --cron <expr> or --every <ms>, not ${cron === undefined ? 'neither' : 'both'} (usage: ${PROG} schedule ${COMMANDS.schedule!.args})`);
  if (typeof v.tz === 'string' && cron === undefined) throw new UsageError('schedule: --tz only goes with --cron');
  const spec: ScheduleSpec = cron !== undefined ? { cron, ...(typeof v.tz === 'string' ? { tz: v.tz } : {}) } : { every: parseInteger('--every', every!, 1) };
  const overlap = typeof v.overlap === 'string' ? v.overlap : undefined;
  if (overlap !== undefined && overlap !== 'allow' && overlap !== 'skip') throw new UsageError(`--overlap must be allow or skip, got ${quote(overlap)}`);
  const options: ScheduleOptions = taskOptions(v);
  if (overlap) options.overlap = overlap;
  return withClient(ctx, async (client) => {
    const r = await client.schedule(name, spec, fn, data, options);
    const shown = (await client.schedules()).find((s) => s.name === name);
    ctx.io.stdout.write(`${r.changed ? 'scheduled' : 'unchanged'} ${shown ? describeSchedule(shown) : quote(name)}\n`);
    return 0;
  });
}

async function runUnschedule(ctx: Context): Promise<number> {
  const name = positional(ctx, 0, 'schedule name', 'unschedule');
  noMorePositionals(ctx, 1, 'unschedule');
  return withClient(ctx, async (client) => {
    if (await client.unschedule(name)) {
      ctx.io.stdout.write(`unscheduled ${quote(name)}\n`);
      return 0;
    }
    ctx.io.stderr.write(`${PROG}: no schedule named ${quote(name)}\n`);
    return 1;
  });
}

function runSchedules(ctx: Context): Promise<number> {
  return runList(ctx, 'schedules', (c) => c.schedules(), describeSchedule, 'no schedules set');
}

// ------------------------------------------------------------------------------ main

function version(): string {
  // src/cli.ts and dist/src/cli.js sit one and two levels below package.json
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 3; i++, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'task-swarm') return pkg.version ?? '?';
    } catch {
      // keep looking
    }
  }
  return '?';
}

type Parsed = { name: string; command: Command; ctx: Context; warnings: string[] } | { help: string };

function parseCommandLine(argv: string[], io: CliIO): Parsed {
  const all: Record<string, OptionSpec> = { ...GLOBAL_OPTIONS, version: { type: 'boolean', doc: '' } };
  for (const c of Object.values(COMMANDS)) Object.assign(all, c.options);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      options: Object.fromEntries(
        Object.entries(all).map(([k, o]) => [k, { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) }]),
      ),
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError(parseArgsMessage(e as NodeJS.ErrnoException));
  }
  const values = parsed.values as Context['values'];
  const [name, ...positionals] = parsed.positionals;
  if (values.version === true && name === undefined) return { help: version() };
  if (name === undefined) {
    if (values.help === true) return { help: usage() };
    throw new UsageError(`missing command (one of ${Object.keys(COMMANDS).join(', ')}); "${PROG} --help" shows usage`);
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) throw new UsageError(`unknown command ${quote(name)} (one of ${Object.keys(COMMANDS).join(', ')}); "${PROG} --help" shows usage`);
  if (values.help === true) return { help: commandUsage(name, command) };
  for (const key of Object.keys(values)) {
    if (!(key in GLOBAL_OPTIONS) && !(key in command.options)) {
      throw new UsageError(`option --${key} does not apply to "${name}"; "${PROG} ${name} --help" lists its options`);
    }
  }
  const warnings: string[] = [];
  if (typeof values.secret === 'string') {
    warnings.push('--secret is visible to other users in ps; use --secret-file <path> or env TASK_SWARM_SECRET instead');
  }
  const redis = redisOptions(values, io.env, warnings);
  const names: [string, keyof RedisOptions][] = [
    ['key-prefix', 'keyPrefix'],
    ['new-queue', 'newQueue'],
    ['task-set', 'taskSet'],
    ['task-prefix', 'taskPrefix'],
    ['end-queue', 'endQueue'],
    ['worker-set', 'workerSet'],
  ];
  for (const [flag, key] of names) {
    const v = values[flag];
    if (typeof v === 'string') (redis as Record<string, unknown>)[key] = v;
  }
  return { name, command, ctx: { positionals, values, redis, io }, warnings };
}

function parseArgsMessage(e: NodeJS.ErrnoException): string {
  // Node names the option as '-h, --help <value>' or '--url': the long form is what a user knows.
  const found = /'(?:-[^-' ,]+, )?(-[^' ]*)/.exec(e.message)?.[1];
  const opt = found === undefined ? '' : escapeControls(found);
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${opt} ("${PROG} --help" shows usage; a value starting with "-" goes after "--")`.replace('  ', ' ');
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/argument missing/.test(e.message)) return `option ${opt} needs a value`;
      if (/ambiguous/.test(e.message)) return `option ${opt} needs a value (one starting with "-" goes as ${opt.startsWith('--') ? `${opt}=-value` : `${opt}-value`})`;
      return `option ${opt} takes no value`;
    default:
      return escapeControls(e.message.split('\n')[0] ?? String(e));
  }
}

/** "Worker.concurrency must be >= 1" -> "--concurrency must be >= 1": name the flag the user typed. */
function asFlags(e: unknown): unknown {
  if (!(e instanceof ConfigError)) return e;
  const message = e.message
    .replace(/\bredis\.tls\.([A-Za-z]+)\b/g, (_m, key: string) => `--redis-tls-${key}`)
    .replace(/\bredis\.(url|sentinels|cluster|name|tls)\b/g, (_m, key: string) => `--redis-${key}`)
    .replace(/\bredis\.sentinelPassword\b/g, '--redis-sentinel-password-file')
    .replace(/\b(?:Worker|Monitor|redis)\.([A-Za-z]+)\b/g, (_m, key: string) => `--${kebab(key)}`);
  return message === e.message ? e : new ConfigError(message);
}

/**
 * Redis's ACL refusal as one line that says so. Inside MULTI a refused command fails the whole
 * transaction with "EXECABORT Transaction discarded because of previous errors", which names
 * neither the permission nor the command: ioredis keeps the real errors in `previousErrors`.
 */
function aclRefusal(e: unknown): unknown {
  if (!(e instanceof Error) || e instanceof TaskSwarmError) return e;
  const previous = (e as { previousErrors?: unknown }).previousErrors;
  const first = Array.isArray(previous) ? previous.find((p): p is Error => p instanceof Error) : undefined;
  const cause = /^EXECABORT/.test(e.message) && first ? first : e;
  if (!/^NOPERM|user executing the script can't/.test(cause.message)) return cause === e ? e : new RuntimeError(`Redis refused: ${cause.message}`);
  const hint = /function\|load/.test(cause.message)
    ? "the function library is not loaded on this Redis, and this user may not load it: a worker or a monitor loads it when it starts (or load it as an admin; docs/deployments.md)"
    : "this Redis user's ACL does not allow it: acl/README.md says what each role (worker, monitor, producer, operator) may run";
  return new RuntimeError(`Redis refused: ${cause.message.split('\n')[0]} (${hint})`);
}

function exitCodeOf(e: unknown): number {
  if (e instanceof UsageError || e instanceof ConfigError || e instanceof InvalidTaskError) return 2;
  return 1;
}

const PROCESS_IO: CliIO = { stdout: process.stdout, stderr: process.stderr, env: process.env };

/**
 * Run one command line; resolves with its exit status (0 ok, 1 runtime error, 2 usage error).
 * A worker or monitor resolves once a signal has stopped it (130/143 when a second signal cut
 * the stop short). Never rejects, never exits the process.
 */
export async function main(argv: string[], io: CliIO = PROCESS_IO): Promise<number> {
  try {
    const parsed = parseCommandLine(argv, io);
    if ('help' in parsed) {
      io.stdout.write(parsed.help + '\n');
      return 0;
    }
    for (const w of parsed.warnings) io.stderr.write(`${PROG}: warning: ${w}\n`);
    return await parsed.command.run(parsed.ctx);
  } catch (caught) {
    const e = aclRefusal(asFlags(caught));
    const known = e instanceof UsageError || e instanceof RuntimeError || e instanceof TaskSwarmError;
    const message = e instanceof Error ? e.message.split('\n')[0] : String(e);
    io.stderr.write(`${PROG}: ${known ? message : `unexpected error: ${message}`}\n`);
    if (io.env.TASK_SWARM_DEBUG && e instanceof Error) io.stderr.write(`${e.stack}\n`);
    return exitCodeOf(e);
  }
}

/** Whether this module is the program being run (node cli.js, the npm bin symlink, tsx), not an import. */
function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    () => process.exit(1),
  );
}
