/**
 * Logging through tslog. Pass your own `logger` (a tslog Logger or anything with
 * debug/info/warn/error) in the options, or set TASK_SWARM_LOG=debug|info|warn|error|silent and
 * TASK_SWARM_LOG_FORMAT=json|pretty. Pretty logs are coloured only on a terminal (NO_COLOR and
 * FORCE_COLOR decide first), so a log redirected to a file holds no escape codes.
 */
import { Logger } from 'tslog';

export interface LoggerLike {
  debug(...args: unknown[]): unknown;
  info(...args: unknown[]): unknown;
  warn(...args: unknown[]): unknown;
  error(...args: unknown[]): unknown;
}

const SILENT: LoggerLike = { debug() {}, info() {}, warn() {}, error() {} };

const LEVELS: Record<string, number> = { silly: 0, trace: 1, debug: 2, info: 3, warn: 4, error: 5, fatal: 6, silent: 7 };

export function createLogger(name: string, given?: LoggerLike): LoggerLike {
  if (given) return given;
  const level = LEVELS[(process.env.TASK_SWARM_LOG ?? 'info').toLowerCase()] ?? 3;
  if (level >= 7) return SILENT;
  return new Logger({
    name,
    type: process.env.TASK_SWARM_LOG_FORMAT === 'json' ? 'json' : 'pretty',
    minLevel: level,
    hideLogPositionForProduction: true,
    stylePrettyLogs: colours(process.env, process.stdout.isTTY === true),
  });
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
 * the state whose effect failed (xstate.error.actor.<n>.<machine>.<state> -> <state>).
 */
export function effectErrorReporter(log: LoggerLike, machine: string) {
  const prefix = new RegExp(`^xstate\\.error\\.actor\\.(\\d+\\.)?(${machine}\\.)?`);
  return ({ event }: { event: { type: string } }): void => {
    const e = (event as { error?: unknown }).error;
    log.warn(`${event.type.replace(prefix, '')}: ${e instanceof Error ? e.message : String(e)}`);
  };
}
