/**
 * Runs a user task function for the task machine's `startRun` action: builds the `Task` handle
 * with a fresh AbortSignal for the run, on a reload re-reads the task's `data` from its hash
 * first (as the seed's reload did; a claim the hash says is another's runs no more), and reports how the run settled back to the task machine
 * (RUN_DONE / RUN_FAILED, tagged with the run number, so a replaced run's report is ignored).
 * Each run has its own listeners, and its handle speaks for it only while it is the current run
 * (task-handle.ts).
 * The first run arms the attempt's timeout, when the task has one (attempt-timer.ts).
 */
import type { AnyActorRef } from 'xstate';
import type { LocalTask, TaskFunction } from './task.js';
import { parseEntry, resultJson } from './wire.js';
import { TaskHandle } from './task-handle.js';
import { LeaseLostError, UnknownFunctionError } from './errors.js';
import { LazyAbort } from '../actors/lazy-abort.js';
import { armAttemptTimer, timeOutIfLate } from './attempt-timer.js';
import type { RunObserver } from './telemetry/worker-telemetry.js';

export interface RunnerDeps {
  /** the record of this claim (`lease`) of task `id` */
  local(id: string, lease: string): LocalTask | undefined;
  fn(name: string): TaskFunction | undefined;
  /**
   * a reload's re-read of claim `t`'s hash: its `data` now (`raw`; null when it holds none, or
   * Redis did not answer: the run takes the data it has), and `gone` when the hash says the
   * claim is no longer this one (the task requeued while this worker did not hear it): the copy
   * is then given up, and its function not called again
   */
  reread(t: LocalTask): Promise<{ raw: string | null; gone?: boolean }>;
  /** publish an event of this claim of the task (fenced by its lease) */
  emit(t: LocalTask, event: string, data: unknown): void;
  /** heartbeat of this claim of the task (`t` is the claim's record: a later claim of the same id is another) */
  update(t: LocalTask, progress: unknown): Promise<void>;
  /** the current run listens for control events `name` now (it gets those held for it during a reload) */
  listened(t: LocalTask, name: string): void;
  /** told as each run starts; what it returns runs the function and hears how it settled (metrics, traces) */
  observe?(t: LocalTask): RunObserver;
}

export function taskRunner(deps: RunnerDeps) {
  return ({ context, self }: { context: { id: string; lease: string; run: number }; self: AnyActorRef }): void => {
    const { id, lease, run } = context;
    const report = (event: { type: 'RUN_DONE'; output: unknown } | { type: 'RUN_FAILED'; error: unknown }) => {
      if (self.getSnapshot().status === 'active') self.send({ ...event, run });
    };
    const t = deps.local(id, lease);
    if (!t) return report({ type: 'RUN_FAILED', error: new Error(`task ${id} is not held by this worker`) });
    if (run === 0 && t.entry.timeout !== undefined) armAttemptTimer(t, self);
    const controller = new LazyAbort();
    t.controller = controller;
    t.settled = false;
    t.resultJson = undefined;
    const settle = () => {
      if (t.controller !== controller) return;
      t.settled = true;
      // settled past the deadline (the function blocked the event loop): out of time all the same
      if (t.timeout) timeOutIfLate(t, self);
    };
    const observer = deps.observe?.(t);
    let running: unknown;
    try {
      running = execute(deps, t, run, controller, observer);
    } catch (error) {
      // thrown before the function returned (or by it, synchronously): told after this step, as a rejection is
      running = Promise.reject(error);
    }
    // (a promise the function returned is followed as it is: no async wrapper, one promise and
    // one turn fewer per task)
    Promise.resolve(running).then(
      (output) => {
        settle();
        // A result JSON cannot carry fails the attempt here, as a throw would: past this point
        // the task is succeeding, and its END could only store something else.
        let json: string;
        try {
          json = resultJson(output);
        } catch (error) {
          observer?.settled(error);
          return report({ type: 'RUN_FAILED', error });
        }
        if (t.controller === controller) t.resultJson = json;
        observer?.settled();
        report({ type: 'RUN_DONE', output });
      },
      (error: unknown) => {
        settle();
        observer?.settled(error);
        report({ type: 'RUN_FAILED', error });
      },
    );
  };
}

/** the run: a reload's re-reads the task's data first; what the function returns (it may throw) */
function execute(deps: RunnerDeps, t: LocalTask, run: number, abort: LazyAbort, observer?: RunObserver): unknown {
  if (run === 0) return call(deps, t, abort, observer);
  return deps.reread(t).then(({ raw, gone }) => {
    if (gone) throw new LeaseLostError(t.id);
    if (raw) {
      t.entry = parseEntry(raw);
      t.raw = raw;
    }
    // Aborted while its data was read (the machine, working again, heard a stop or another
    // reload; a timeout, a halt): this run is over before it began. Its function is not called:
    // called with its signal born aborted, one that listens for `abort` (never fired then) ran
    // to its end after the stop.
    if (abort.aborted) throw abort.signal.reason;
    return call(deps, t, abort, observer);
  });
}

function call(deps: RunnerDeps, t: LocalTask, abort: LazyAbort, observer?: RunObserver): unknown {
  // This run hears the task's control events from now on, with listeners of its own: a run a
  // reload replaced kept its listeners on the task, and each event reached both runs.
  t.listening = abort;
  t.listeners = undefined;
  const fn = deps.fn(t.entry.function);
  if (!fn) throw new UnknownFunctionError(t.entry.function);
  const handle = new TaskHandle(deps, t, abort);
  return observer?.call ? observer.call(() => fn(handle)) : fn(handle);
}
