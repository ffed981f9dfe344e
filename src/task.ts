/**
 * What a task function receives (`Task`) and the worker's local record of a running task.
 */
import type { TaskEntry } from './wire.js';
import type { LazyAbort } from '../actors/lazy-abort.js';

export interface Task<D = any> {
  readonly id: string;
  /** the task's `data`, parsed when it was a JSON string */
  readonly data: D;
  /** 1 on the first claim, higher when the task was requeued after a worker died */
  readonly attempt: number;
  readonly function: string;
  /**
   * aborts on `stop`, `reload`, a lost lease, a halt or a worker stop past its grace, and when
   * the attempt's `timeout` is up: `signal.reason` is then a TimeoutError (code ERR_TIMEOUT,
   * name 'TimeoutError', as AbortSignal.timeout() reports); else an Error saying it was aborted
   */
  readonly signal: AbortSignal;
  /**
   * publish an event on `task-<id>-events` (pipelined; costs the task no round trip). Throws an
   * InvalidTaskError for a name the runtime reserves (`end`, `requeued`, `control-error`,
   * `retrying`, `machine-state`), an empty name, or data JSON cannot carry. Called after the
   * function returned (the task ended), the event is dropped and the worker logs a warning.
   */
  emit(event: string, data?: unknown): void;
  /**
   * listen for custom control events `{event_name, event}` sent to this task. Throws an
   * InvalidTaskError for a name that is not a non-empty string, or a handler that is no function.
   */
  on(eventName: string, handler: (payload: unknown) => void): this;
  off(eventName: string, handler: (payload: unknown) => void): this;
  /**
   * explicit heartbeat; with `progress`, also emits a `progress` event. Rejects with
   * LeaseLostError only when the lease is known to be someone else's (the task was requeued and
   * claimed elsewhere: its signal has fired). A Redis outage, or Redis coming back without its
   * data, is the runtime's to handle: update() then resolves (the leases are held or re-asserted
   * by the worker's own heartbeat), so no call a task makes can turn an outage into its end.
   */
  update(progress?: unknown): Promise<void>;
}

export type TaskFunction<D = any, R = unknown> = (task: Task<D>) => R | Promise<R>;

/** The worker's in-memory copy of a task it runs: enough to heartbeat, end or re-assert it. */
export interface LocalTask {
  id: string;
  raw: string;
  entry: TaskEntry;
  attempt: number;
  lease: string;
  /** Redis time (ms) of the claim (for re-assertion after Redis lost the hash) */
  start: number;
  /** performance.now() of the claim, for the lease age its heartbeats report (src/telemetry/) */
  claimedAt?: number;
  /** performance.now() before its claim's request left: control messages heard since may be for this claim (src/early-control.ts) */
  claimSentAt?: number;
  /** the current run's abort (a new one per run: a reload starts a new run) */
  controller?: LazyAbort;
  /** the current run's function has returned or thrown: there is nothing left to abort */
  settled?: boolean;
  /** the JSON of what the current run returned, made as it returned (the END writes it) */
  resultJson?: string;
  /**
   * the attempt's timeout (entry `timeout`), once armed: ms, its deadline (performance.now()),
   * and the timer until it fired or was disarmed (src/attempt-timer.ts)
   */
  timeout?: { ms: number; deadline: number; timer?: NodeJS.Timeout };
  /**
   * the current run's control-event listeners, by event name (made by its first `on`); a run's
   * own: a reload detaches them, and the next run starts with none
   */
  listeners?: Map<string, Set<(payload: unknown) => void>>;
  /**
   * the run whose listeners hear control events (its abort stands for it), from the call of its
   * function until a reload detaches it; none between a reload's abort and the next run's call
   */
  listening?: LazyAbort;
  /**
   * control events heard while no run listened (a reload under way): the next run gets them,
   * each when it first listens for its name (src/effects/task-actions.ts)
   */
  held?: Array<{ name: string; payload: unknown }>;
  /** an emit or update came after its END was written here, and was logged (once a claim: the next go without a word) */
  lateCallTold?: boolean;
  /**
   * its machine released it with its END written here (not given up: an END refused, its lease
   * lost, a halt): what it emits after its function returned is told as late, not sent
   */
  endedHere?: boolean;
  /** how many events this claim has published (each event's `seq`: emit.lua publishes each once, though sent again) */
  emitted?: number;
  /**
   * this claim was told to stop (its machine took a STOP): the task is to be marked `cancelling`
   * in Redis under its lease (told-stop.lua), and marked again at a heartbeat whose renew does not
   * report the mark (the call failed, Redis not answering; or Redis lost the hash and it was
   * re-asserted from memory, without it)
   */
  toldStop?: boolean;
  /** the partition it was claimed from (src/partitions.ts; 0 with one) */
  part: number;
  /**
   * the epoch of its partition's data when this worker last found its hash there (its claim, or
   * a renew): a later renew that finds the hash missing under another epoch knows Redis lost it
   */
  epoch: string;
}
