/**
 * Every error a user can meet is a TaskSwarmError with a stable `code`, so callers can branch
 * on `err.code` rather than on message text. Script return codes map to these in one place:
 * `fromScriptCode` below.
 */
export class TaskSwarmError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A configuration value is missing, of the wrong type or out of range. */
export class ConfigError extends TaskSwarmError {
  constructor(message: string) {
    super('ERR_CONFIG', message);
  }
}

/** A task submitted or pushed with an id that is already queued, running or retained. */
export class DuplicateTaskError extends TaskSwarmError {
  constructor(readonly taskId: string) {
    super('ERR_DUPLICATE_TASK', `task id "${taskId}" is already in use (queued, running or ended and retained)`);
  }
}

/** A task or control message that does not parse or lacks a required field. */
export class InvalidTaskError extends TaskSwarmError {
  constructor(message: string) {
    super('ERR_INVALID_TASK', message);
  }
}

/** A task names a function that the worker has not registered. */
export class UnknownFunctionError extends TaskSwarmError {
  constructor(readonly functionName: string) {
    super('ERR_UNKNOWN_FUNCTION', `no task function named "${functionName}" is registered on this worker`);
  }
}

/** A task id that Redis knows nothing about. */
export class TaskNotFoundError extends TaskSwarmError {
  constructor(readonly taskId: string) {
    super('ERR_TASK_NOT_FOUND', `no task with id "${taskId}" (never submitted, or its retention expired)`);
  }
}

/** Redis could not be reached (or answered with an error) when a component started. */
export class RedisUnavailableError extends TaskSwarmError {
  constructor(message: string, cause?: unknown) {
    super('ERR_REDIS_UNAVAILABLE', message, { cause });
  }
}

/** A wait (task end, worker start) that did not finish in time. */
export class TimeoutError extends TaskSwarmError {
  constructor(message: string) {
    super('ERR_TIMEOUT', message);
  }
}

/** The worker no longer holds the lease of a task: its writes were refused. */
export class LeaseLostError extends TaskSwarmError {
  constructor(readonly taskId: string) {
    super('ERR_LEASE_LOST', `lease of task "${taskId}" was lost (requeued or claimed elsewhere); write refused`);
  }
}

/** The worker's host:port cannot be listened on. */
export class ListenError extends TaskSwarmError {
  constructor(message: string, cause?: unknown) {
    super('ERR_LISTEN', message, { cause });
  }
}

/** The component is not in a state that allows the call (e.g. start() twice). */
export class StateError extends TaskSwarmError {
  constructor(message: string) {
    super('ERR_STATE', message);
  }
}

/** A task function threw; carried as the task's stored error. */
export class TaskFailedError extends TaskSwarmError {
  constructor(
    readonly taskId: string,
    readonly taskError: unknown,
  ) {
    super('ERR_TASK_FAILED', `task "${taskId}" failed: ${describe(taskError)}`);
  }
}

function describe(e: unknown): string {
  if (e && typeof e === 'object' && 'message' in e) return String((e as { message: unknown }).message);
  return String(e);
}

/**
 * Reasons the Lua scripts give for parking an entry in the dead-letter list, mapped to the
 * error code a reader of the dead-letter list (or the log) sees.
 */
export const DEAD_LETTER_CODES = {
  bad_json: 'ERR_INVALID_TASK',
  missing_id: 'ERR_INVALID_TASK',
  missing_function: 'ERR_INVALID_TASK',
  unknown_function: 'ERR_UNKNOWN_FUNCTION',
  duplicate: 'ERR_DUPLICATE_TASK',
  too_large: 'ERR_INVALID_TASK',
  max_attempts: 'ERR_MAX_ATTEMPTS',
} as const;
export type DeadLetterReason = keyof typeof DEAD_LETTER_CODES;
