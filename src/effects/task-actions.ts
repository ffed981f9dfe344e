/**
 * The task machine's effects (machines/task.ts), as the worker provides them: run the task's
 * function (task-runner.ts), abort it, hand it control events, write its END (the end batch,
 * end-batch.ts, and finish.lua), release what the worker keeps of it. What they need of the
 * worker comes in as `TaskActionDeps`: its records of the claims it runs, their partitions,
 * its functions, telemetry and log.
 */
import type { taskMachine } from '../../machines/task.js';
import type { LocalTask, TaskFunction } from '../task.js';
import type { LoggerLike } from '../logger.js';
import type { WorkerTelemetry } from '../telemetry/worker-telemetry.js';
import { NOT_RETRIED, type EndBatch, type EndingOutcome, type EndWritten } from './end-batch.js';
import type { EventOutbox } from './event-outbox.js';
import { keepToldStop } from './leases.js';
import type { Keys } from '../keys.js';
import type { Connection } from '../redis.js';
import { TaskStoppedError } from '../errors.js';
import { MAX_ERROR_FIELD_BYTES, MAX_RETRIED_ERROR_FIELD_BYTES, safeJson, serializeError } from '../wire.js';
import { backoffDelay } from '../retry-policy.js';
import { disarmAttemptTimer } from '../attempt-timer.js';
import { taskRunner } from '../task-runner.js';
import { quote } from '../quote.js';

export interface TaskActionDeps {
  log: LoggerLike;
  telemetry: WorkerTelemetry;
  /** the record of claim `lease` of task `id`: the one running it, or an old claim's kept aside */
  local(id: string, lease: string): LocalTask | undefined;
  /** a claimed task's machine has started: its record moves from claimed to running */
  adopt(id: string, lease: string): LocalTask | undefined;
  /** forget this claim's record (its machine is over) */
  release(t: LocalTask): void;
  /** the partition a task runs from: its keys, its events' outbox and its ENDs' batch */
  partOf(id: string): { keys: Keys; outbox: EventOutbox; ends: EndBatch };
  /** the worker's command connection */
  redis: Connection;
  fn(name: string): TaskFunction | undefined;
  /** a reload's re-read of the claim's hash: its `data` now, and whether the claim is gone (task-runner.ts) */
  reread(t: LocalTask): Promise<{ raw: string | null; gone?: boolean }>;
  /** publish an event of this claim of the task (fenced by its lease) */
  emit(t: LocalTask, event: string, data: unknown): void;
  /** the task function's `update()`: a heartbeat of this claim, with its progress */
  update(t: LocalTask, progress: unknown): Promise<void>;
  /**
   * after this claim's END was refused: whether it holds its lease still, once a renew has
   * checked it (re-asserting the task if Redis lost its data); rejects while Redis is lost or not
   * reconciled yet, when no one can tell
   */
  confirmLease(t: LocalTask): Promise<boolean>;
}

type TaskActions = NonNullable<Parameters<typeof taskMachine.provide>[0]['actions']>;

/** the stored error of a task ended by a `stop` control message */
const STOPPED = (({ name, code, message }) => ({ name, code, message }))(new TaskStoppedError());

/** how often a task whose END keeps failing is logged again, at most */
export const END_FAILURE_REPORT_MS = 5000;

/** control events a task holds for its next run while a reload is under way, at most */
export const HELD_EVENTS_MAX = 100;

export function taskActions(deps: TaskActionDeps): TaskActions {
  const { log, telemetry } = deps;
  /** a control event to a run's listeners of its name */
  const deliver = (id: string, name: string, handlers: Set<(payload: unknown) => void> | undefined, payload: unknown) => {
    if (!handlers?.size) log.debug(`task ${quote(id)}: control event ${quote(name)} has no listener`);
    // Anyone who can PUBLISH reaches these: a listener that throws, or an async one that
    // rejects (an unhandled rejection would end the process), is reported, not fatal.
    // (the logger reads the value: one it cannot read is reported without it)
    const report = (e: unknown) => {
      try {
        log.warn(`task ${quote(id)}: listener for ${quote(name)} threw`, e);
      } catch {
        log.warn(`task ${quote(id)}: listener for ${quote(name)} threw a value that cannot be logged`);
      }
    };
    for (const h of handlers ?? []) {
      try {
        const r = h(payload) as unknown;
        if (r instanceof Promise) r.catch(report);
      } catch (e) {
        report(e);
      }
    }
  };
  const keepStop = (id: string, lease: string) => keepToldStop(deps.redis, deps.partOf(id).keys, { id, lease }, log);
  /** per claim (id and lease) whose END failed: when it was last logged, and the tries since */
  const endFailures = new Map<string, { reported: number; since: number }>();
  return {
    abortRun: ({ context, event }) => {
      const t = deps.local(context.id, context.lease);
      // out of time: the reason is the TimeoutError the attempt ends with
      if (t && !t.settled) t.controller?.abort(event.type === 'TIMEOUT' ? event.error : new Error(`task ${context.id} aborted`));
    },
    // Once a claim: a STOP heard again (while halting) sends nothing more. Not awaited: a stop
    // heard during an outage, its call refused, is marked again by the first heartbeat Redis
    // answers, as one whose mark Redis lost (src/worker.ts, renewIn). The END is written only
    // once the function heeds the stop, up to abortTimeout later: a worker cut off or killed
    // meanwhile left the task to run again elsewhere, though it had heard the stop.
    markToldStop: ({ context }) => {
      const t = deps.local(context.id, context.lease);
      if (t?.toldStop) return;
      if (t) t.toldStop = true;
      keepStop(context.id, context.lease);
    },
    deliverEvent: ({ context, event }) => {
      if (event.type !== 'EVENT') return;
      const t = deps.local(context.id, context.lease);
      if (t && !t.listening) {
        // A reload is under way: the old run is detached and the new one's function has not
        // been called yet. Held for the new run (bounded: anyone who can PUBLISH reaches here).
        const held = (t.held ??= []);
        if (held.length < HELD_EVENTS_MAX) return void held.push({ name: event.name, payload: event.payload });
        const message = `control event ${quote(event.name)} arrived during a reload with ${HELD_EVENTS_MAX} events held for the new run already: dropped`;
        log.warn(`task ${quote(context.id)}: ${message}`);
        return deps.emit(t, 'control-error', { message });
      }
      deliver(context.id, event.name, t?.listeners?.get(event.name), event.payload);
    },
    detachRun: ({ context }) => {
      const t = deps.local(context.id, context.lease);
      if (!t) return;
      t.listening = undefined;
      t.listeners = undefined;
    },
    reportFinishError: ({ context, event }) => {
      // The END is tried again every finishRetryDelay for as long as Redis is away: one line
      // per try filled the log with the same line. The first is logged, then at most one every
      // END_FAILURE_REPORT_MS, counting the tries since.
      const key = `${context.id}\0${context.lease}`;
      const now = Date.now();
      const seen = endFailures.get(key);
      const why = String((event as { error?: Error }).error?.message ?? '');
      if (!seen) {
        endFailures.set(key, { reported: now, since: 0 });
        return log.warn(`task ${quote(context.id)}: could not write its end, retrying: ${why}`);
      }
      seen.since++;
      if (now - seen.reported < END_FAILURE_REPORT_MS) return;
      log.warn(`task ${quote(context.id)}: still could not write its end (${seen.since} more tries failed), retrying: ${why}`);
      seen.reported = now;
      seen.since = 0;
    },
    releaseTask: ({ context }) => {
      endFailures.delete(`${context.id}\0${context.lease}`);
      const t = deps.local(context.id, context.lease);
      if (!t) return;
      // events held for a run that never listened for them (the reload ended in a stop, a
      // timeout; or the new run did not listen for their names): as an event nobody listens to
      if (t.held?.length) log.debug(`task ${quote(context.id)}: ${t.held.length} control event(s) held during a reload reached no listener`);
      t.held = undefined;
      telemetry.released(t, context.outcome, context.abandoned, context.error);
      if (t.timeout) disarmAttemptTimer(t);
      t.endedHere = !context.abandoned;
      deps.release(t);
    },
    startRun: taskRunner({
      local: (id, lease) => deps.local(id, lease) ?? deps.adopt(id, lease),
      fn: deps.fn,
      reread: deps.reread,
      emit: deps.emit,
      listened: (t, name) => {
        // The run listens for `name` now: the events of that name held for it during the
        // reload are its, in the order heard; after this call returns, as a live one would come.
        const held = t.held?.filter((e) => e.name === name);
        if (!held?.length) return;
        t.held = t.held!.filter((e) => e.name !== name);
        const run = t.listening;
        queueMicrotask(() => {
          for (const e of held) if (t.listening === run) deliver(t.id, name, t.listeners?.get(name), e.payload);
        });
      },
      observe: (t) => telemetry.run(t),
      update: deps.update,
    }),
    writeEnd: ({ context, self }) => {
      const mine = deps.local(context.id, context.lease);
      // (a result is made JSON as the function returns: task-runner.ts)
      const payload =
        context.outcome === 'succeeded'
          ? (mine?.resultJson ?? safeJson(context.result))
          : context.outcome === 'stopped'
            ? JSON.stringify(STOPPED)
            : // (an attempt retried: bounded tighter, as its task's history keeps it for good)
              JSON.stringify(serializeError(context.error, context.outcome === 'retry' ? MAX_RETRIED_ERROR_FIELD_BYTES : MAX_ERROR_FIELD_BYTES));
      const report = (e: { type: 'ENDED'; written: boolean } | { type: 'END_FAILED'; error: unknown }) => {
        if (self.getSnapshot().status === 'active') self.send(e);
      };
      // Events this copy emitted while Redis was away wait in the outbox until the worker
      // has reconciled; its END must not overtake them (they would find the task ended, and
      // be refused): it is tried again, after them.
      const part = deps.partOf(context.id);
      if (part.outbox.holds(context.id, context.lease)) {
        queueMicrotask(() => report({ type: 'END_FAILED', error: new Error('its events are waiting for Redis; the END follows them') }));
        return;
      }
      // a retry waits the task's backoff, from Redis's clock (finish.lua adds it to its now)
      const outcome: EndingOutcome = context.outcome === 'retry' ? `retry:${backoffDelay(mine?.entry.backoff, context.attempt)}` : (context.outcome ?? 'failed');
      // told to stop once its function had failed (the END on its way, or tried again as Redis
      // came back): marked first, on the same connection, so the retry is not written, as a stop
      // through the Client has it (finish.lua answers NOT_RETRIED)
      if (mine?.toldStop && context.outcome === 'retry') keepStop(context.id, context.lease);
      if (mine) telemetry.ending(mine, context.outcome ?? 'failed');
      const settled = (answer: EndWritten) => {
        const written = answer !== false;
        // (a retry written as the task's end, stopped: it was marked cancelling, and the
        // retry's claim, which a stop heard since waits for, will not come)
        const ended = answer === NOT_RETRIED ? 'stopped' : (context.outcome ?? 'failed');
        if (mine) telemetry.ended(mine, ended, written);
        if (written) {
          log.debug(`task ${quote(context.id)} ended: ${ended}`);
        }
        else log.warn(`task ${quote(context.id)}: END refused, our lease is gone (the task was requeued); nothing written`);
        report({ type: 'ENDED', written });
      };
      part.ends.end({ id: context.id, lease: context.lease, outcome, payloadJson: payload }).then(
        (written) => {
          // Refused: the lease is someone else's now, or the task's hash is missing because Redis
          // lost its data and this END reached it before the worker re-asserted the task (ENDs
          // do not wait for the worker's reconcile, and one already sent is resent as the
          // connection comes back). Only in the first case is the task given up; a renew tells.
          // (A written END, every task's, settles here without another promise.)
          if (written || !mine) return settled(written);
          deps.confirmLease(mine).then(
            (held) => (held ? report({ type: 'END_FAILED', error: new Error('refused while its lease holds (Redis lost the task with its data; re-asserted since)') }) : settled(false)),
            (error: unknown) => report({ type: 'END_FAILED', error }),
          );
        },
        (error: unknown) => report({ type: 'END_FAILED', error }),
      );
    },
  };
}
