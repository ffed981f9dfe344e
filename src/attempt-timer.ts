/**
 * The per-attempt timeout of a task whose entry has `timeout` (ms): the worker's own timer,
 * armed when the attempt's first run starts and kept across reloads, sends the task machine
 * TIMEOUT when the time is up. A function that blocks the event loop holds the timer back too;
 * so the runner also asks, when a run settles, whether the deadline has passed (pastDeadline),
 * and a result that came too late does not count. A task without a timeout arms nothing.
 */
import type { AnyActorRef } from 'xstate';
import type { LocalTask } from './task.js';
import type { TaskEntry } from './wire.js';
import { TimeoutError } from './errors.js';
import { quote } from './quote.js';
import { MAX_TIMER_MS } from './submission.js';

/** the entry's timeout in ms, when it has a valid one (claim.lua and submit refuse others) */
export function entryTimeout(entry: TaskEntry): number | undefined {
  const v = entry.timeout;
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_TIMER_MS ? v : undefined;
}

/** TIMEOUT for the task machine: its error is the attempt's end and the run's abort reason */
function timeoutEvent(t: LocalTask, ms: number) {
  return { type: 'TIMEOUT' as const, error: new TimeoutError(`task ${quote(t.id)} timed out: attempt ${t.attempt} ran past its timeout of ${ms} ms`) };
}

function send(t: LocalTask, self: AnyActorRef, ms: number): void {
  disarmAttemptTimer(t);
  if (self.getSnapshot().status === 'active') self.send(timeoutEvent(t, ms));
}

export function armAttemptTimer(t: LocalTask, self: AnyActorRef): void {
  const ms = entryTimeout(t.entry);
  if (ms === undefined) return;
  const timer = setTimeout(() => send(t, self, ms), ms);
  // a task's timer never keeps a process alive by itself
  timer.unref();
  t.timeout = { ms, deadline: performance.now() + ms, timer };
}

/**
 * Called as a run settles: when its attempt's deadline has passed (the event loop was blocked
 * past it, so the timer could not fire), TIMEOUT goes to the actor first, ahead of the report.
 */
export function timeOutIfLate(t: LocalTask, self: AnyActorRef): void {
  const to = t.timeout;
  if (to?.timer !== undefined && performance.now() >= to.deadline) send(t, self, to.ms);
}

export function disarmAttemptTimer(t: LocalTask): void {
  if (t.timeout?.timer === undefined) return;
  clearTimeout(t.timeout.timer);
  t.timeout.timer = undefined;
}
