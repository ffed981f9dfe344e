#!/usr/bin/env node
/**
 * The `task-swarm` command: run a worker or a monitor, submit tasks, read, follow, wait for and
 * control them, and read or retry the dead-letter list.
 *
 * Every mistake a user can make ends in one line on stderr, `task-swarm: <message>`, and exit
 * status 2 (usage: unknown command or option, bad value, bad JSON) or 1 (runtime: Redis
 * unreachable, unknown task, task failed, timeout). No stack traces (TASK_SWARM_DEBUG=1 shows
 * them).
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { Client, type TaskInfo } from './client.js';
import { MONITOR_FIELDS, WORKER_FIELDS, type RedisOptions } from './config.js';
import { ConfigError, InvalidTaskError, TaskNotFoundError, TaskSwarmError } from './errors.js';
import { Monitor, type MonitorOptions } from './monitor.js';
import type { TaskFunction } from './task.js';
import { Worker, type WorkerOptions } from './worker.js';
import type { ControlInput, TaskEvent } from './wire.js';

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
  'redis-url': { type: 'string', arg: 'url', doc: `Redis to use (env REDIS_URL; default ${DEFAULT_REDIS_URL})` },
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

const LOG_OPTION: OptionSpec = { type: 'string', arg: 'level', doc: 'log level: debug, info, warn, error or silent (env TASK_SWARM_LOG; default info)' };
const SECRET_OPTION: OptionSpec = { type: 'string', arg: 'secret', doc: 'shared secret authenticating peer pings (env TASK_SWARM_SECRET)' };

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
  redis: RedisOptions;
  redisUrl: string;
}

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
      secret: SECRET_OPTION,
      log: LOG_OPTION,
    },
    run: runWorker,
  },
  monitor: {
    args: '[options]',
    summary: 'run a monitor, which requeues the tasks of dead workers',
    details: 'SIGINT/SIGTERM stop it; a second one exits at once.',
    options: { ...fieldOptions(MONITOR_FIELDS), secret: SECRET_OPTION, log: LOG_OPTION },
    run: runMonitor,
  },
  submit: {
    args: '<function> [json-data] [options]',
    summary: 'queue a task; prints its id',
    details: 'json-data is the task\'s data as JSON, e.g. \'{"frame":1}\' (default null).\nWith --wait: exit status 1 unless the task succeeded.',
    options: {
      id: { type: 'string', arg: 'id', doc: 'your own task id (default: a random one)' },
      'manual-end': { type: 'boolean', doc: 'keep the task hash after it ends, listed in end-task' },
      wait: { type: 'boolean', doc: 'wait for the end, showing events on stderr; print the task as JSON' },
      timeout: { type: 'string', arg: 'ms', doc: 'with --wait: give up after this many ms (default: never)' },
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
  control: {
    args: '<id> stop|reload|<json>',
    summary: 'send a running task a control message',
    details: 'json is a custom event: \'{"event_name":"pause","event":{...}}\'.',
    options: {},
    run: runControl,
  },
  events: {
    args: '<id>',
    summary: "print a task's events as JSON lines until it ends (Ctrl-C to stop)",
    options: {},
    run: runEvents,
  },
  dead: {
    args: '[--limit N] [--json]',
    summary: 'list the dead letters, newest first, each with its key',
    details: 'A key names its entry for good: `retry-dead <key>` and `purge-dead <key>` take it, whatever was parked since.',
    options: {
      limit: { type: 'string', arg: 'n', doc: 'show at most n entries (default 20)' },
      json: { type: 'boolean', doc: 'print JSON' },
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
  status: {
    args: '[--json]',
    summary: 'counts: queued, claimed, workers, dead letters, manually ended',
    options: { json: { type: 'boolean', doc: 'print JSON' } },
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
  ].join('\n');
}

// ------------------------------------------------------------------------------ parsing helpers

function parseInteger(name: string, raw: string, min = 0): number {
  if (!/^-?\d+$/.test(raw.trim())) throw new UsageError(`${name} must be an integer, got "${raw}"`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${name} must be an integer >= ${min}, got "${raw}"`);
  return n;
}

function parseJson(what: string, raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (e) {
    throw new UsageError(`${what} is not valid JSON (${(e as Error).message}): ${raw.length > 60 ? `${raw.slice(0, 60)}…` : raw}`);
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
  if (extra.length) throw new UsageError(`${command}: unexpected argument "${extra[0]}" (usage: ${PROG} ${command} ${COMMANDS[command]!.args})`);
}

const redact = (url: string) => url.replace(/\/\/[^@/]*@/, '//***@');

// ------------------------------------------------------------------------------ Redis

/** Fail fast, with one clear line, when Redis is not there: one ping, no reconnects. */
async function checkRedis(url: string): Promise<void> {
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 3000,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
  });
  let cause: Error | undefined;
  probe.on('error', (e: Error) => (cause ??= e));
  try {
    await probe.connect();
    await probe.ping();
  } catch (e) {
    const err = cause ?? (e as Error);
    const msg = (err as NodeJS.ErrnoException).code === 'ETIMEDOUT' ? 'connection timed out' : err.message;
    throw new RuntimeError(`cannot reach Redis at ${redact(url)}: ${msg}`);
  } finally {
    probe.disconnect();
  }
}

async function withClient<T>(ctx: Context, fn: (client: Client) => Promise<T>): Promise<T> {
  await checkRedis(ctx.redisUrl);
  const client = new Client({ redis: ctx.redis });
  try {
    return await fn(client);
  } finally {
    await Promise.race([client.close(), new Promise((r) => setTimeout(r, 1000))]);
  }
}

async function requireTask(client: Client, id: string): Promise<TaskInfo> {
  const t = await client.get(id);
  if (!t) throw new TaskNotFoundError(id);
  return t;
}

// ------------------------------------------------------------------------------ output

function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n');
}

function eventLine(id: string, ev: TaskEvent): string {
  const at = typeof ev.at === 'number' ? new Date(ev.at).toISOString().slice(11, 23) : '';
  return `${at} ${id} ${ev.event}${ev.data === null || ev.data === undefined ? '' : ` ${JSON.stringify(ev.data)}`}`;
}

/** The task as JSON on stdout; 0 when it succeeded, else a one-line reason and 1. */
function reportEnd(t: TaskInfo): number {
  const { raw: _raw, ...shown } = t;
  printJson(shown);
  if (t.outcome === 'succeeded') return 0;
  const why = t.error?.message ? `: ${t.error.message}` : '';
  const parked = t.parked ? ` (parked as ${t.parked.reason}; \`${PROG} retry-dead ${t.parked.key}\` queues it again)` : '';
  process.stderr.write(`${PROG}: task "${t.id}" ended ${t.outcome ?? 'without an outcome'}${parked}${why}\n`);
  return 1;
}

/** Wait for the end of a task, printing its other events on stderr. */
async function waitFor(client: Client, id: string, timeout: number | undefined): Promise<TaskInfo> {
  const off = client.subscribe(id, (ev) => {
    if (ev.event !== 'end') process.stderr.write(eventLine(id, ev) + '\n');
  });
  try {
    return await client.wait(id, { timeout });
  } finally {
    off();
  }
}

// ------------------------------------------------------------------------------ commands

/** Stop gracefully on the first SIGINT/SIGTERM, at once on the second. */
function onSignals(what: string, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`${PROG}: ${signal} again: exiting at once\n`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    stopping = true;
    process.stderr.write(`${PROG}: ${signal}: stopping the ${what} (${signal} again to exit at once)\n`);
    stop().then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`${PROG}: error while stopping the ${what}: ${(e as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

function applyLogLevel(values: Context['values']): void {
  const level = values.log;
  if (typeof level !== 'string') return;
  const known = ['silly', 'trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
  if (!known.includes(level.toLowerCase())) throw new UsageError(`--log must be one of ${known.join(', ')}, got "${level}"`);
  process.env.TASK_SWARM_LOG = level;
}

function secretOf(values: Context['values']): string | undefined {
  const s = values.secret ?? process.env.TASK_SWARM_SECRET;
  return typeof s === 'string' && s !== '' ? s : undefined;
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
  const options: WorkerOptions = { ...(fieldValues(WORKER_FIELDS, ctx.values) as WorkerOptions), redis: ctx.redis, secret: secretOf(ctx.values) };
  const worker = new Worker(options); // validates the options before anything is loaded
  const functions = await loadFunctions(paths);
  for (const [name, fn] of functions) worker.addTaskFunction(name, fn);
  await checkRedis(ctx.redisUrl);
  onSignals('worker', () => worker.stop());
  await worker.start();
  return -1; // keeps running until a signal
}

async function runMonitor(ctx: Context): Promise<number> {
  noMorePositionals(ctx, 0, 'monitor');
  applyLogLevel(ctx.values);
  const options: MonitorOptions = { ...(fieldValues(MONITOR_FIELDS, ctx.values) as MonitorOptions), redis: ctx.redis, secret: secretOf(ctx.values) };
  const monitor = new Monitor(options);
  await checkRedis(ctx.redisUrl);
  onSignals('monitor', () => monitor.stop());
  await monitor.start();
  return -1;
}

async function runSubmit(ctx: Context): Promise<number> {
  const fn = positional(ctx, 0, 'function name', 'submit');
  const rawData = ctx.positionals[1];
  noMorePositionals(ctx, 2, 'submit');
  const data = rawData === undefined ? undefined : parseJson('json-data', rawData);
  const wait = ctx.values.wait === true;
  const timeout = typeof ctx.values.timeout === 'string' ? parseInteger('--timeout', ctx.values.timeout, 1) : undefined;
  if (timeout !== undefined && !wait) throw new UsageError('submit: --timeout only goes with --wait');
  const id = typeof ctx.values.id === 'string' ? ctx.values.id : undefined;
  if (id === '') throw new UsageError('submit: --id must not be empty');
  return withClient(ctx, async (client) => {
    const taskId = await client.submit(fn, data, { id, manualEnd: ctx.values['manual-end'] === true });
    if (!wait) {
      process.stdout.write(taskId + '\n');
      return 0;
    }
    process.stderr.write(`submitted ${taskId}; waiting for its end\n`);
    return reportEnd(await waitFor(client, taskId, timeout));
  });
}

async function runGet(ctx: Context): Promise<number> {
  const id = positional(ctx, 0, 'task id', 'get');
  noMorePositionals(ctx, 1, 'get');
  return withClient(ctx, async (client) => {
    const t = await requireTask(client, id);
    const { raw: _raw, ...shown } = t;
    printJson(shown);
    return 0;
  });
}

async function runWait(ctx: Context): Promise<number> {
  const id = positional(ctx, 0, 'task id', 'wait');
  noMorePositionals(ctx, 1, 'wait');
  const timeout = typeof ctx.values.timeout === 'string' ? parseInteger('--timeout', ctx.values.timeout, 1) : undefined;
  return withClient(ctx, async (client) => {
    await requireTask(client, id);
    return reportEnd(await waitFor(client, id, timeout));
  });
}

function parseControl(raw: string): ControlInput {
  if (raw === 'stop' || raw === 'reload') return raw;
  const v = parseJson('control message', raw);
  if (!v || typeof v !== 'object' || Array.isArray(v) || typeof (v as { event_name?: unknown }).event_name !== 'string' || (v as { event_name: string }).event_name === '') {
    throw new UsageError(`control message must be stop, reload or JSON {"event_name": "...", "event": ...}, got ${raw}`);
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
      const how = t.state === 'END' ? `has ended (${t.outcome ?? 'no outcome'})` : 'is queued, not running yet';
      throw new RuntimeError(`task "${id}" ${how}: control messages only reach running tasks`);
    }
    await client.control(id, message);
    const shown = typeof message === 'string' ? message : `event "${message.event_name}"`;
    process.stdout.write(`sent ${shown} to task ${id} (running on ${t.worker ?? '?'})\n`);
    return 0;
  });
}

async function runEvents(ctx: Context): Promise<number> {
  const id = positional(ctx, 0, 'task id', 'events');
  noMorePositionals(ctx, 1, 'events');
  return withClient(ctx, async (client) => {
    let finish: (code: number) => void = () => {};
    const done = new Promise<number>((r) => (finish = r));
    const off = client.subscribe(id, (ev) => {
      process.stdout.write(JSON.stringify(ev) + '\n');
      if (ev.event === 'end') finish(0);
    });
    const stop = () => finish(130);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      const t = await client.get(id);
      if (t?.state === 'END') {
        process.stderr.write(`task ${id} has already ended (${t.outcome ?? 'no outcome'}); "${PROG} get ${id}" shows it\n`);
        return 0;
      }
      process.stderr.write(t ? `following task ${id} (${t.state}); Ctrl-C to stop\n` : `task ${id} is not known (yet); waiting for its events; Ctrl-C to stop\n`);
      return await done;
    } finally {
      off();
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  });
}

async function runDead(ctx: Context): Promise<number> {
  noMorePositionals(ctx, 0, 'dead');
  const limit = typeof ctx.values.limit === 'string' ? parseInteger('--limit', ctx.values.limit, 1) : 20;
  return withClient(ctx, async (client) => {
    const [letters, { dead }] = await Promise.all([client.deadLetters({ limit }), client.stats()]);
    if (ctx.values.json === true) {
      printJson(letters);
      return 0;
    }
    if (letters.length === 0) {
      process.stdout.write('no dead letters\n');
      return 0;
    }
    for (const l of letters) {
      process.stdout.write(`key ${l.key}  ${timeOf(l.at)}  ${l.reason}  ${l.id ? `id=${l.id}  ` : ''}${l.message}\n`);
    }
    if (dead > letters.length) process.stdout.write(`(${dead - letters.length} older not shown; --limit ${dead} shows all)\n`);
    return 0;
  });
}

/** a Redis time for a listing; total over anything a hand-edited entry holds */
function timeOf(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? '?' : d.toISOString().replace('T', ' ').slice(0, 19);
}

function deadKey(ctx: Context, command: string): string {
  const key = positional(ctx, 0, 'key (as listed by `dead`)', command);
  noMorePositionals(ctx, 1, command);
  if (!/^\d+$/.test(key)) throw new UsageError(`${command}: a dead letter's key is a number, as listed by \`${PROG} dead\`; got "${key}"`);
  return key;
}

async function runRetryDead(ctx: Context): Promise<number> {
  const key = deadKey(ctx, 'retry-dead');
  return withClient(ctx, async (client) => {
    const letter = await client.deadLetter(key);
    if (!letter || !(await client.retryDead(key))) throw new RuntimeError(`no dead letter with key ${key} (retried, purged or dropped already; \`${PROG} dead\` lists them)`);
    process.stdout.write(`requeued dead letter ${key}${letter.id ? ` (task ${letter.id}, was ${letter.reason})` : ` (${letter.reason})`}\n`);
    return 0;
  });
}

async function runPurgeDead(ctx: Context): Promise<number> {
  const key = deadKey(ctx, 'purge-dead');
  return withClient(ctx, async (client) => {
    const letter = await client.deadLetter(key);
    if (!letter || !(await client.purgeDead(key))) throw new RuntimeError(`no dead letter with key ${key} (retried, purged or dropped already; \`${PROG} dead\` lists them)`);
    process.stdout.write(`purged dead letter ${key}${letter.id ? ` (task ${letter.id}, was ${letter.reason})` : ` (${letter.reason})`}\n`);
    return 0;
  });
}

async function runStatus(ctx: Context): Promise<number> {
  noMorePositionals(ctx, 0, 'status');
  return withClient(ctx, async (client) => {
    const s = await client.stats();
    if (ctx.values.json === true) printJson(s);
    else process.stdout.write(`queued ${s.queued}  claimed ${s.tasks}  workers ${s.workers}  dead ${s.dead}  ended (manual_end) ${s.ended}\n`);
    return 0;
  });
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

function parseCommandLine(argv: string[]): { name: string; command: Command; ctx: Context } | { help: string } {
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
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command "${name}" (one of ${Object.keys(COMMANDS).join(', ')}); "${PROG} --help" shows usage`);
  if (values.help === true) return { help: commandUsage(name, command) };
  for (const key of Object.keys(values)) {
    if (!(key in GLOBAL_OPTIONS) && !(key in command.options)) {
      throw new UsageError(`option --${key} does not apply to "${name}"; "${PROG} ${name} --help" lists its options`);
    }
  }
  const redisUrl = (values['redis-url'] as string | undefined) ?? process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
  let u: URL;
  try {
    u = new URL(redisUrl);
  } catch {
    throw new UsageError(`Redis URL must look like redis://[user:password@]host:port[/db], got "${redact(redisUrl)}"`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new UsageError(`Redis URL must start with redis:// or rediss://, got "${redact(redisUrl)}"`);
  }
  const redis: RedisOptions = { url: redisUrl };
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
  return { name, command, ctx: { positionals, values, redis, redisUrl } };
}

function parseArgsMessage(e: NodeJS.ErrnoException): string {
  const opt = /'(-[^' ]*)/.exec(e.message)?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${opt ?? ''} ("${PROG} --help" shows usage; a value starting with "-" goes after "--")`.replace('  ', ' ');
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /argument missing/.test(e.message) ? `option ${opt ?? ''} needs a value` : `option ${opt ?? ''} takes no value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return e.message;
    default:
      return e.message.split('\n')[0] ?? String(e);
  }
}

/** "Worker.concurrency must be >= 1" -> "--concurrency must be >= 1": name the flag the user typed. */
function asFlags(e: unknown): unknown {
  if (!(e instanceof ConfigError)) return e;
  const message = e.message.replace(/\b(?:Worker|Monitor|redis)\.([A-Za-z]+)\b/g, (_m, key: string) => `--${kebab(key)}`);
  return message === e.message ? e : new ConfigError(message);
}

function exitCodeOf(e: unknown): number {
  if (e instanceof UsageError || e instanceof ConfigError || e instanceof InvalidTaskError) return 2;
  return 1;
}

async function main(argv: string[]): Promise<void> {
  let code: number;
  try {
    const parsed = parseCommandLine(argv);
    if ('help' in parsed) {
      process.stdout.write(parsed.help + '\n');
      code = 0;
    } else {
      code = await parsed.command.run(parsed.ctx);
      if (code < 0) return; // a worker or monitor: runs until a signal stops it
    }
  } catch (caught) {
    const e = asFlags(caught);
    const known = e instanceof UsageError || e instanceof RuntimeError || e instanceof TaskSwarmError;
    const message = e instanceof Error ? e.message.split('\n')[0] : String(e);
    process.stderr.write(`${PROG}: ${known ? message : `unexpected error: ${message}`}\n`);
    if (process.env.TASK_SWARM_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    code = exitCodeOf(e);
  }
  process.exit(code);
}

await main(process.argv.slice(2));
