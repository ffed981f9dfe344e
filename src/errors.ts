/**
 * Every error a user can meet is a TaskSwarmError with a stable `code`, so callers can branch
 * on `err.code` rather than on message text. What the scripts park, and why, maps to these in
 * one place: DEAD_LETTER_REASONS below.
 */

import { quote } from './quote.js';

export class TaskSwarmError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * The base of an error that is its code and a message (and what caused it, if given):
 * `class XError extends coded('ERR_X') {}`. Its `name` is still the class's own.
 */
function coded(code: string): new (message: string, options?: { cause?: unknown }) => TaskSwarmError {
  return class extends TaskSwarmError {
    constructor(message: string, options?: { cause?: unknown }) {
      super(code, message, options);
    }
  };
}

/** A configuration value is missing, of the wrong type or out of range. */
export class ConfigError extends coded('ERR_CONFIG') {}

/** A task submitted or pushed with an id that is already queued, running or retained. */
export class DuplicateTaskError extends TaskSwarmError {
  /** `message`: why, when it is not an id in use (one id given to two tasks of one `submitMany`) */
  constructor(
    readonly taskId: string,
    message = `task id ${quote(taskId)} is already in use (queued, running or ended and retained)`,
  ) {
    super('ERR_DUPLICATE_TASK', message);
  }
}

/** A task or control message that does not parse or lacks a required field. */
export class InvalidTaskError extends coded('ERR_INVALID_TASK') {}

/**
 * A task whose entry (its JSON, as it would go on the queue) is larger than the Client's
 * `maxPayloadBytes`: refused at submit, nothing written (a worker would park it `too_large`,
 * the code of which is the same). `bytes` is its size, `limit` the limit it is over.
 */
export class TaskTooLargeError extends InvalidTaskError {
  constructor(
    message: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(message);
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
  constructor(
    readonly taskId: string,
    // (purge-dead deletes a parked task's hash with its letter, as deadLetterRetention does: an operator
    // who purged it and reads it again is told so)
    message = `no task with id ${quote(taskId)} (never submitted, its retention expired, or purged as a dead letter)`,
  ) {
    super('ERR_TASK_NOT_FOUND', message);
  }
}

/** Redis could not be reached (or answered with an error) when a component started. */
export class RedisUnavailableError extends TaskSwarmError {
  constructor(message: string, cause?: unknown) {
    super('ERR_REDIS_UNAVAILABLE', message, { cause });
  }
}

/**
 * A write Redis made but fewer replicas acknowledged than `redis.durable` asks for, within
 * `redis.durableTimeout` (WAIT): it holds on the primary, and a failover now could lose it.
 * Submit rejects with it (its tasks are queued: `taskIds`); a worker logs it for an END.
 */
export class NotDurableError extends TaskSwarmError {
  constructor(
    message: string,
    readonly taskIds: readonly string[],
    readonly acknowledged: number,
  ) {
    super('ERR_NOT_DURABLE', message);
  }
}

/**
 * A submitMany that failed after it had queued some of its tasks, or when it cannot know whether
 * it did: its batches, and its shares over a swarm's partitions, are scripts of their own, and
 * one failed after (or beside) another that ran. Made again whole, it would queue the tasks that
 * ran twice (a generated id is new each time). What became of each task:
 * - `submitted`: queued (a task whose dedupe key another held: that task's id, as submitMany
 *   answers it);
 * - `notSubmitted`: surely not written (its script was refused, or never sent): submit these
 *   again, with these ids as `options.id` where they were generated;
 * - `unknown`: sent, and the answer lost (Redis gone or silent meanwhile): they may be queued.
 *   `get` tells; submitted again with the same id, one that is there is refused with a
 *   DuplicateTaskError (a generated id's entry holds its first submit's time, which a submit
 *   again with that id as `options.id` does not: it is another entry), so none is queued twice.
 * `ids` lists every task's id in the order given (the ids above are among them); `cause` is the
 * failure. (With redis.durable, no WAIT was made for the ones submitted.)
 */
export class PartlySubmittedError extends TaskSwarmError {
  constructor(
    message: string,
    readonly ids: readonly string[],
    readonly submitted: readonly string[],
    readonly notSubmitted: readonly string[],
    readonly unknown: readonly string[],
    cause: unknown,
  ) {
    super('ERR_PARTLY_SUBMITTED', message, { cause });
  }
}

/**
 * The server is too old for the scripts (Redis < 7.0, Valkey < 7.2), or its version cannot be
 * read: found when a component starts.
 */
export class UnsupportedServerError extends TaskSwarmError {
  constructor(message: string, cause?: unknown) {
    super('ERR_SERVER_VERSION', message, { cause });
  }
}

/**
 * A wait (task end, worker start) that did not finish in time; or a task attempt that ran past
 * its `timeout` (the attempt's stored error, and its AbortSignal's reason).
 */
export class TimeoutError extends coded('ERR_TIMEOUT') {}

/**
 * Thrown by a task function: the task ends failed at once, whatever attempts it has left (bad
 * input, a refused payment: trying again cannot help). Recognised by its name, so one thrown by
 * another copy of the package counts too.
 */
export class NonRetryableError extends TaskSwarmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_NON_RETRYABLE', message, options);
    this.name = 'NonRetryableError';
  }
}

/** The worker no longer holds the lease of a task: its writes were refused. */
export class LeaseLostError extends TaskSwarmError {
  /** `ended`: the write came after the attempt had ended here (its function returned), not after a requeue */
  constructor(
    readonly taskId: string,
    readonly why: 'lost' | 'ended' = 'lost',
  ) {
    super(
      'ERR_LEASE_LOST',
      why === 'ended'
        ? `task ${quote(taskId)} had ended here (its function returned) when the write came; write refused`
        : `lease of task ${quote(taskId)} was lost (requeued or claimed elsewhere); write refused`,
    );
  }
}

/** The worker's host:port cannot be listened on. */
export class ListenError extends TaskSwarmError {
  constructor(message: string, cause?: unknown) {
    super('ERR_LISTEN', message, { cause });
  }
}

/**
 * Redis refused, for good, something a component cannot work without: its ACL user lacks a
 * command or channel (NOPERM). The message names what to grant; src/acl.ts makes the rules.
 */
export class PermissionError extends coded('ERR_PERMISSION') {}

/** The component is not in a state that allows the call (e.g. start() twice). */
export class StateError extends coded('ERR_STATE') {}

/** A task whose worker died `maxAttempts` times: parked instead of requeued again. */
export class MaxAttemptsError extends coded('ERR_MAX_ATTEMPTS') {}

/** A task stopped by a control message: its stored error when it ends `stopped`. */
export class TaskStoppedError extends TaskSwarmError {
  constructor(message = 'stopped by a control message') {
    super('ERR_STOPPED', message);
  }
}

/**
 * Reasons an entry or a task is parked in the dead-letter store, with the error a reader of the
 * store (or of the parked task's hash, or the log) sees. The Lua scripts read this table too:
 * src/scripts.ts generates lib/park-codes.lua from it.
 */
export const DEAD_LETTER_REASONS = {
  // (`refusedAsIs`: the entry's own bytes are what no claim takes, whatever the swarm's state or
  // settings: queued again as it is, it would be parked again at once; retry-dead.lua refuses it)
  bad_json: { code: 'ERR_INVALID_TASK', error: 'InvalidTaskError', refusedAsIs: true },
  bad_id: { code: 'ERR_INVALID_TASK', error: 'InvalidTaskError', refusedAsIs: true },
  /**
   * a `priority`, `group`, `attempts`, `backoff` or `timeout` that is not one (lib/judge.lua says
   * what they may be): the value is in the entry, and judged by it alone, so the same bytes are
   * parked again
   */
  bad_option: { code: 'ERR_INVALID_TASK', error: 'InvalidTaskError', refusedAsIs: true },
  missing_id: { code: 'ERR_INVALID_TASK', error: 'InvalidTaskError', refusedAsIs: true },
  missing_function: { code: 'ERR_INVALID_TASK', error: 'InvalidTaskError', refusedAsIs: true },
  unknown_function: { code: 'ERR_UNKNOWN_FUNCTION', error: 'UnknownFunctionError' },
  duplicate: { code: 'ERR_DUPLICATE_TASK', error: 'DuplicateTaskError' },
  too_large: { code: 'ERR_INVALID_TASK', error: 'InvalidTaskError' },
  max_attempts: { code: 'ERR_MAX_ATTEMPTS', error: 'MaxAttemptsError' },
  /** claimed, but the worker could not start it (the runtime's safety net, park-claimed.lua) */
  unrunnable: { code: 'ERR_INVALID_TASK', error: 'InvalidTaskError' },
} as const satisfies Record<string, { code: string; error: string; refusedAsIs?: true }>;
export type DeadLetterReason = keyof typeof DEAD_LETTER_REASONS;
