/**
 * The life of one task on one worker. RUNNING until the user function settles, then ending
 * (the fenced END write) and END; a failed attempt with attempts left ends as a retry (the same
 * fenced write makes the task DELAYED until its backoff has passed); or abandoned when the lease is lost, in which case nothing more
 * is written. A halt (the worker is cut off from the swarm, or stops past its grace) aborts a
 * running function and gives it abortTimeout to return (halting) before the task is abandoned
 * (told to stop meanwhile, it ends stopped then instead);
 * a task whose function has already settled keeps writing its END (fenced: it is written only if
 * the lease is still ours when Redis answers). Pure: every effect is named here and provided by
 * the runtime (src/worker.ts).
 *
 * Timeouts: a task with a `timeout` gets that many ms per attempt, on the worker's timer (armed by
 * the runtime when the attempt's first run starts; a reload does not re-arm it). TIMEOUT aborts
 * the run (timingOut) and the attempt then ends failed with the TIMEOUT's error as soon as the
 * function settles, or abortTimeout later if it ignores its signal, whatever it returned. A stop
 * wins over a timeout in either order (the task ends stopped); a halt or a lost lease as always.
 */
import { assign, setup } from 'xstate';
import { actionNotProvided } from './not-provided.js';
import type { EveryField } from './every-field.js';

/** how an attempt leaves: an end of the task, or `retry` (it failed with attempts left) */
export type TaskOutcome = 'succeeded' | 'failed' | 'stopped' | 'retry';

export interface TaskInput {
  id: string;
  attempt: number;
  /** tries in all (the task's `attempts`; absent: 1): a failed attempt before the last is retried */
  attempts?: number;
  lease: string;
  abortTimeout: number;
  finishRetryDelay: number;
}

export interface TaskContext extends TaskInput {
  /** incremented by each reload; lets the runner tell runs apart */
  run: number;
  /** set when the task left without writing its end (lease lost, halted, fenced) */
  abandoned: boolean;
  outcome?: TaskOutcome;
  result?: unknown;
  error?: unknown;
  /** the error a timed-out attempt ends with (TIMEOUT's), once its time is up */
  timedOut?: unknown;
  /**
   * told to stop (STOP) while halting: the halted function's end is written as the task's stop
   * (it is not handed back to run again elsewhere, though told to stop)
   */
  toldStop: boolean;
}

/** what the task machine takes (not the wire's TaskEvent of src/wire.ts, what a subscriber sees) */
export type TaskMachineEvent =
  | { type: 'RUN_DONE'; run: number; output: unknown }
  | { type: 'RUN_FAILED'; run: number; error: unknown }
  | { type: 'ENDED'; written: boolean }
  | { type: 'END_FAILED'; error: unknown }
  | { type: 'STOP' }
  | { type: 'RELOAD' }
  /**
   * the attempt's time is up (sent by the runtime's per-attempt timer, or by the runner when a
   * function that blocked the event loop settles past the deadline); `error` is what the attempt
   * ends with, and the run's AbortSignal reason (a TimeoutError)
   */
  | { type: 'TIMEOUT'; error: unknown }
  | { type: 'EVENT'; name: string; payload: unknown }
  | { type: 'LEASE_LOST' }
  | { type: 'HALT' };

export interface TaskOutput {
  id: string;
  /** how the task left this worker: its outcome, or 'abandoned' when nothing was written */
  end: TaskOutcome | 'abandoned';
}

/**
 * The current run settling, however it settles (RUN_DONE or RUN_FAILED), where that makes no
 * difference: the run was aborted (timed out, stopped, reloading, halting).
 */
const settling = <const T>(transitions: T) => ({ RUN_DONE: transitions, RUN_FAILED: transitions });

export const taskMachine = setup({
  types: {
    context: {} as TaskContext,
    events: {} as TaskMachineEvent,
    input: {} as TaskInput,
    output: {} as TaskOutput,
  },
  actions: {
    /**
     * run the user function for run number `context.run` (the first run also takes the claimed
     * task into the worker's heartbeat set); the runtime reports RUN_DONE or RUN_FAILED
     */
    startRun: actionNotProvided('task', 'startRun'),
    /**
     * the fenced END write; the runtime reports ENDED { written: false } when the lease was no
     * longer ours, or END_FAILED. It also tells the worker (TASKS_SETTLED) that the function is
     * done, so its slot takes the next task while this write is on its way.
     */
    writeEnd: actionNotProvided('task', 'writeEnd'),
    /** fire the running function's AbortSignal (a run that has settled is left alone) */
    abortRun: actionNotProvided('task', 'abortRun'),
    /**
     * keep a stop heard in Redis, under this claim (the task marked `cancelling`, as a Client's
     * stop marks it): a stop published by any client then holds if the worker is cut off or dies
     * before its END is written, where the task was requeued and ran again
     */
    markToldStop: actionNotProvided('task', 'markToldStop'),
    /**
     * hand a custom control event to the current run's listeners; one heard while no run listens
     * (a reload under way: its old run detached, its new run's function not called yet) is held
     * for the new run
     */
    deliverEvent: actionNotProvided('task', 'deliverEvent'),
    /**
     * the run a reload replaces hears no more control events (its listeners are detached), and
     * once the next run starts, what it emits or reports through update() is dropped
     */
    detachRun: actionNotProvided('task', 'detachRun'),
    /** log why the END write failed; it is retried */
    reportFinishError: actionNotProvided('task', 'reportFinishError'),
    /** release the task's local resources (listeners, registry entry) */
    releaseTask: actionNotProvided('task', 'releaseTask'),
    nextRun: assign({ run: ({ context }) => context.run + 1 }),
    markSucceeded: assign({ outcome: 'succeeded' as const, result: ({ event }) => (event as unknown as { output: unknown }).output }),
    markFailed: assign({ outcome: 'failed' as const, error: ({ event }) => (event as unknown as { error: unknown }).error }),
    /** the attempt failed and another is due: written as a retry after the task's backoff (DELAYED) */
    markRetry: assign({ outcome: 'retry' as const, error: ({ event }) => (event as unknown as { error: unknown }).error }),
    markStopped: assign({
      outcome: 'stopped' as const,
      result: ({ event }) => (event as unknown as { output?: unknown }).output,
      error: ({ event }) => (event as unknown as { error?: unknown }).error,
    }),
    markAbandoned: assign({ abandoned: true }),
    noteToldStop: assign({ toldStop: true }),
    noteTimeout: assign({ timedOut: ({ event }) => (event as unknown as { error: unknown }).error }),
    /** the timed-out attempt ends failed with its timeout error, whatever the function did after */
    markTimedOut: assign({ outcome: 'failed' as const, error: ({ context }) => context.timedOut }),
    /** timed out with attempts left: retried, as a throw would be */
    retryTimedOut: assign({ outcome: 'retry' as const, error: ({ context }) => context.timedOut }),
  },
  guards: {
    /** a report from the current run (not one that a reload has replaced) */
    isCurrentRun: ({ context, event }) => (event as { run?: number }).run === context.run,
    /**
     * a report of the current run that may be tried again: attempts are left, and the error is
     * not a NonRetryableError (by name: the class may come from another copy of the package)
     */
    retryable: ({ context, event }) => {
      if ((event as { run?: number }).run !== context.run || context.attempt >= (context.attempts ?? 1)) return false;
      const error = (event as { error?: unknown }).error;
      try {
        return !(error instanceof Error && error.name === 'NonRetryableError');
      } catch {
        return true; // a thrown value that cannot be read (a revoked Proxy) is no NonRetryableError
      }
    },
    /** attempts are left after this one (a timed-out attempt is retried then) */
    attemptsLeft: ({ context }) => context.attempt < (context.attempts ?? 1),
    /** a report of the current run, with attempts left after this one */
    currentRunWithAttemptsLeft: ({ context, event }) => (event as { run?: number }).run === context.run && context.attempt < (context.attempts ?? 1),
    /** told to stop while halting (see `toldStop`) */
    toldStop: ({ context }) => context.toldStop,
    /** a report of the current run, told to stop while halting */
    currentRunToldStop: ({ context, event }) => context.toldStop && (event as { run?: number }).run === context.run,
    /** the fenced END write went through */
    written: ({ event }) => (event as { written?: boolean }).written === true,
  },
  delays: {
    abortTimeout: ({ context }) => context.abortTimeout,
    finishRetryDelay: ({ context }) => context.finishRetryDelay,
  },
}).createMachine({
  id: 'task',
  // (every field at once, none spread from the input nor added later: machines/every-field.ts)
  context: ({ input }): EveryField<TaskContext> => ({
    id: input.id,
    attempt: input.attempt,
    attempts: input.attempts,
    lease: input.lease,
    abortTimeout: input.abortTimeout,
    finishRetryDelay: input.finishRetryDelay,
    run: 0,
    abandoned: false,
    outcome: undefined,
    result: undefined,
    error: undefined,
    timedOut: undefined,
    toldStop: false,
  }),
  initial: 'RUNNING',
  on: {
    LEASE_LOST: '.abandoned',
  },
  states: {
    RUNNING: {
      initial: 'working',
      entry: 'startRun',
      on: { HALT: 'halting' },
      // A report of the current run settles it; one from a run a reload replaced is ignored.
      // Each substate says what settling means there, so the common path checks one guard.
      states: {
        working: {
          on: {
            RUN_DONE: { guard: 'isCurrentRun', target: '#task.ending', actions: 'markSucceeded' },
            RUN_FAILED: [
              { guard: 'retryable', target: '#task.ending', actions: 'markRetry' },
              { guard: 'isCurrentRun', target: '#task.ending', actions: 'markFailed' },
            ],
            STOP: 'stopping',
            RELOAD: 'reloading',
            TIMEOUT: { target: 'timingOut', actions: 'noteTimeout' },
            EVENT: { actions: 'deliverEvent' },
          },
        },
        timingOut: {
          // Out of time: the run is aborted (its signal's reason is the TIMEOUT's error), and the
          // attempt ends failed with that error once the function settles, however it settles
          // (retried, like a throw, when attempts are left: a timeout is never NonRetryable).
          entry: 'abortRun',
          on: {
            ...settling([
              { guard: 'currentRunWithAttemptsLeft', target: '#task.ending', actions: 'retryTimedOut' },
              { guard: 'isCurrentRun', target: '#task.ending', actions: 'markTimedOut' },
            ]),
            // a stop wins over the timeout: the task ends stopped (within abortTimeout of the stop)
            STOP: 'stopping',
          },
          after: {
            // The function ignored its AbortSignal: end the attempt as timed out anyway.
            abortTimeout: [
              { guard: 'attemptsLeft', target: '#task.ending', actions: 'retryTimedOut' },
              { target: '#task.ending', actions: 'markTimedOut' },
            ],
          },
        },
        stopping: {
          entry: ['abortRun', 'markToldStop'],
          on: settling({ guard: 'isCurrentRun', target: '#task.ending', actions: 'markStopped' }),
          after: {
            // The function ignored its AbortSignal: end it as stopped anyway.
            abortTimeout: { target: '#task.ending', actions: 'markStopped' },
          },
        },
        reloading: {
          // The old run is detached before it hears its abort: events from now on are the next
          // run's (held until it listens), never the old run's as well.
          entry: ['detachRun', 'abortRun'],
          on: {
            ...settling({ guard: 'isCurrentRun', target: '#task.RUNNING', reenter: true, actions: 'nextRun' }),
            STOP: 'stopping',
            // no run listens now: held for the next run
            EVENT: { actions: 'deliverEvent' },
            // the attempt's time runs on across a reload: out of time, the old run is not replaced
            TIMEOUT: { target: 'timingOut', actions: 'noteTimeout' },
          },
          after: {
            abortTimeout: { target: '#task.RUNNING', reenter: true, actions: 'nextRun' },
          },
        },
      },
    },
    halting: {
      // Cut off, or stopped past the grace: the function is aborted and gets abortTimeout to
      // return; whatever it returns is not written (the monitors requeue the task elsewhere, or
      // the stop hands it back). Told to stop meanwhile (a control `stop`, a cancel), it ends
      // stopped as the halted function returns, or when its abortTimeout from the halt has
      // passed, as a stop heard before the halt would have it: given up, it was handed back and
      // ran again elsewhere, though told to stop.
      entry: 'abortRun',
      on: {
        ...settling([
          { guard: 'currentRunToldStop', target: 'ending', actions: 'markStopped' },
          { guard: 'isCurrentRun', target: 'abandoned' },
        ]),
        STOP: { actions: ['noteToldStop', 'markToldStop'] },
      },
      after: { abortTimeout: [{ guard: 'toldStop', target: 'ending', actions: 'markStopped' }, { target: 'abandoned' }] },
    },
    ending: {
      entry: 'writeEnd',
      on: {
        // The END's answer says how this attempt ended, whatever was heard meanwhile: a lease
        // that looks lost (a heartbeat finding it gone, a new claim of the id here) is what an
        // END that was written leaves behind (a retry's END and the next claim of its id travel
        // in one script), and an END that was not written is answered refused.
        LEASE_LOST: {},
        ENDED: [
          { guard: 'written', target: 'END' },
          // Fenced: our lease was gone, someone else owns the task now. Write nothing more.
          { target: 'abandoned' },
        ],
        END_FAILED: { target: 'retryingEnd', actions: 'reportFinishError' },
      },
    },
    retryingEnd: {
      // (the END's next answer says, as in ending)
      on: { LEASE_LOST: {} },
      after: { finishRetryDelay: 'ending' },
    },
    END: {
      type: 'final',
      entry: 'releaseTask',
    },
    abandoned: {
      type: 'final',
      entry: ['markAbandoned', 'abortRun', 'releaseTask'],
    },
  },
  output: ({ context }) => ({
    id: context.id,
    end: context.abandoned ? 'abandoned' : (context.outcome ?? 'failed'),
  }),
});
