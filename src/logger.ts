/**
 * Logging through tslog. Pass your own `logger` (a tslog Logger or anything with
 * debug/info/warn/error) in the options, or set TASK_SWARM_LOG=debug|info|warn|error|silent and
 * TASK_SWARM_LOG_FORMAT=json|pretty. Pretty logs are coloured only on a terminal (NO_COLOR and
 * FORCE_COLOR decide first), so a log redirected to a file holds no escape codes.
 */
import { Logger } from 'tslog';
import { ConfigError } from './errors.js';
import { isOutOfReach } from './out-of-reach.js';
import { serializeError } from './wire.js';

export interface LoggerLike {
  debug(...args: unknown[]): unknown;
  info(...args: unknown[]): unknown;
  warn(...args: unknown[]): unknown;
  error(...args: unknown[]): unknown;
}

/**
 * `logger` as given to `who` (Client, Worker, Monitor): refused at once unless it has the four
 * methods; taken, a number or `console.log` failed later, in start() or as an uncaught
 * exception from a timer.
 */
export function checkLogger(who: string, logger: unknown): LoggerLike | undefined {
  if (logger === undefined) return undefined;
  const l = logger as Partial<Record<keyof LoggerLike, unknown>> | null;
  const missing = l === null || (typeof l !== 'object' && typeof l !== 'function') ? undefined : (['debug', 'info', 'warn', 'error'] as const).filter((m) => typeof l[m] !== 'function');
  if (!missing || missing.length) {
    throw new ConfigError(`${who}.logger must be an object with debug/info/warn/error methods${missing?.length ? ` (it lacks ${missing.join(', ')})` : `, got ${l === null ? 'null' : typeof l}`}`);
  }
  return l as LoggerLike;
}

const SILENT: LoggerLike = { debug() {}, info() {}, warn() {}, error() {} };

const LEVELS: Record<string, number> = { silly: 0, trace: 1, debug: 2, info: 3, warn: 4, error: 5, fatal: 6, silent: 7 };

/** the environment's settings that were not understood, said once per process */
let told = false;

export function createLogger(name: string, given?: LoggerLike): LoggerLike {
  if (given) return guarded(name, given);
  const levelName = (process.env.TASK_SWARM_LOG ?? 'info').toLowerCase();
  const level = LEVELS[levelName] ?? 3;
  if (level >= 7) return SILENT;
  const format = process.env.TASK_SWARM_LOG_FORMAT;
  const json = format === 'json';
  const logger = new Logger({
    name,
    type: json ? 'json' : 'pretty',
    minLevel: level,
    hideLogPositionForProduction: true,
    stylePrettyLogs: colours(process.env, process.stdout.isTTY === true),
    // one flat object a line ({time, level, name, msg, args?}): tslog's own put the message
    // under "0", beside "[undefined]" placeholders and every log call's file position
    ...(json ? { overwrite: { transportJSON: (o: unknown) => process.stdout.write(`${jsonLine(o as Record<string, unknown>)}\n`) } } : {}),
  });
  if (!told) {
    told = true;
    if (LEVELS[levelName] === undefined) logger.warn(`TASK_SWARM_LOG=${JSON.stringify(process.env.TASK_SWARM_LOG)} is not one of ${Object.keys(LEVELS).join(', ')}: info is used`);
    if (format !== undefined && format !== 'json' && format !== 'pretty') logger.warn(`TASK_SWARM_LOG_FORMAT=${JSON.stringify(format)} is neither json nor pretty: pretty is used`);
  }
  return logger;
}

/**
 * A logger given by the user, each of its calls kept from throwing into ours: a logger that threw
 * (a `debug` that is not supported) went up through a machine's transition and ended the
 * process, or killed the task machine it was told of, its task left RUNNING. A line it throws on
 * is given again with its values as plain text, then dropped, said on stderr once for each level.
 */
function guarded(name: string, given: LoggerLike): LoggerLike {
  const told = new Set<string>();
  const level = (m: keyof LoggerLike) => (...args: unknown[]): unknown => {
    try {
      return given[m](...args);
    } catch (e) {
      // (a value it could not read, a revoked Proxy, as plain text once more)
      try {
        return given[m](...args.map((a) => (typeof a === 'string' ? a : serializeError(a))));
      } catch {
        // thrown again: dropped
      }
      if (!told.has(m)) {
        told.add(m);
        let why: string;
        try {
          why = e instanceof Error ? e.message : String(e);
        } catch {
          why = 'an unreadable value';
        }
        process.stderr.write(`task-swarm ${name}: the logger's ${m}() threw (${why}); the line is dropped (said once for each level)\n`);
      }
      return undefined;
    }
  };
  return { debug: level('debug'), info: level('info'), warn: level('warn'), error: level('error') };
}

/** a tslog log object (its arguments under "0", "1"..., its `_meta`) as one JSON line */
export function jsonLine(o: Record<string, unknown>): string {
  const meta = (o._meta ?? {}) as { date?: unknown; logLevelName?: unknown; name?: unknown };
  const args: unknown[] = [];
  for (let i = 0; String(i) in o; i++) args.push(o[String(i)]);
  const [first, ...rest] = args;
  const line: Record<string, unknown> = { time: meta.date, level: meta.logLevelName, name: meta.name, msg: typeof first === 'string' ? first : first };
  if (rest.length) line.args = rest.map(plainError);
  try {
    return JSON.stringify(line);
  } catch {
    return JSON.stringify({ time: meta.date, level: meta.logLevelName, name: meta.name, msg: String(first) });
  }
}

/** tslog's form of an Error ({nativeError, name, message, stack: frames}) as {name, message, stack: lines} */
function plainError(v: unknown): unknown {
  if (typeof v !== 'object' || v === null || !('nativeError' in v)) return v;
  const e = v as { name?: unknown; message?: unknown; stack?: { fullFilePath?: string; method?: string }[] };
  return { name: e.name, message: e.message, stack: Array.isArray(e.stack) ? e.stack.map((f) => `at ${f.method ? `${f.method} ` : ''}${f.fullFilePath ?? '?'}`) : undefined };
}

/**
 * Whether pretty logs are coloured (tslog writes every level to stdout): NO_COLOR set (to
 * anything but '') says no (no-color.org); FORCE_COLOR says yes, unless it is '0' or 'false';
 * else only when stdout is a terminal.
 */
export function colours(env: NodeJS.ProcessEnv, tty: boolean): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  return tty;
}

/**
 * The machines' `reportError` action: log a failed effect the machine recovers from, named by
 * the state whose effect failed (xstate.error.actor.<n>.<machine>.<state> -> <state>). Not one
 * `thrown` says its caller is given (start() rejects with it): said twice, it was two lines.
 * `warn` says the others (a component's OutageLines: the same refusal each round, said once).
 */
export function effectErrorReporter(log: LoggerLike, machine: string, thrown: (e: unknown) => boolean = () => false, warn: (text: string) => unknown = (text) => log.warn(text)) {
  const prefix = new RegExp(`^xstate\\.error\\.actor\\.(\\d+\\.)?(${machine}\\.)?`);
  return ({ event }: { event: { type: string } }): void => {
    const e = (event as { error?: unknown }).error;
    if (thrown(e)) return;
    const state = event.type.replace(prefix, '');
    const message = e instanceof Error ? e.message : String(e);
    // (an outage fails every call on its way: the machine's own lines say the outage and its end,
    // once, where these said each call cut, at WARN, in ioredis's words)
    if (isOutOfReach(e)) log.info(`a Redis call was cut off in state ${state} (${message})`);
    else warn(`${state}: ${message}`);
  };
}
