/**
 * Logging through tslog. Pass your own `logger` (a tslog Logger or anything with
 * debug/info/warn/error) in the options, or set TASK_SWARM_LOG=debug|info|warn|error|silent and
 * TASK_SWARM_LOG_FORMAT=json|pretty.
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
  });
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
