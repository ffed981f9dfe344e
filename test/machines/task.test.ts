/**
 * The task machine, with every effect replaced by a fake.
 *
 * Layer 1 asks the pure `transition()` which effects a step requests (named actions, with the
 * context they would run with, and scheduled delays) without running any of them. Layer 2 runs
 * the machine as an actor with fake effects that record their calls, on a SimulatedClock where
 * delays matter.
 *
 * The machine runs its two long effects as named actions that report back to the task actor
 * by events: `startRun` (RUN_DONE / RUN_FAILED, tagged with the run number) and `writeEnd`
 * (ENDED / END_FAILED).
 */
import { describe, it, expect } from 'vitest';
import { createActor, initialTransition, transition, SimulatedClock, type AnyActorRef } from 'xstate';
import { taskMachine, type TaskContext, type TaskMachineEvent, type TaskInput, type TaskOutcome } from '../../machines/task.js';
import { afterEvent, scheduled } from './steps.js';

const input: TaskInput = { id: 't1', attempt: 2, lease: 'lease-1', abortTimeout: 100, finishRetryDelay: 50 };

// ---------------------------------------------------------------------------------------------
// Helpers for the pure layer
// ---------------------------------------------------------------------------------------------

type Snap = ReturnType<typeof initialTransition<typeof taskMachine>>[0];
type Actions = ReturnType<typeof transition<typeof taskMachine>>[1];

/** names of the machine's own (non-builtin) actions, in order */
const named = (actions: Actions) => actions.map((a) => a.type).filter((t) => !t.startsWith('xstate.'));
/** the context a requested action would run with */
const ctx = (a: Actions[number]) => a.info.context as TaskContext;
/** the runs a step starts (startRun actions), as the runtime would see them */
const runsStarted = (actions: Actions) =>
  actions.filter((a) => a.type === 'startRun').map((a) => ({ id: ctx(a).id, run: ctx(a).run }));
/** the END writes a step asks for (writeEnd actions), with what the runtime would write */
const endsWritten = (actions: Actions) =>
  actions
    .filter((a) => a.type === 'writeEnd')
    .map((a) => {
      const c = ctx(a);
      return { id: c.id, lease: c.lease, outcome: c.outcome, result: c.result, error: c.error };
    });
/** actors a step would start: the task machine starts none, its effects are actions */
const spawned = (actions: Actions) => actions.filter((a) => a.type === 'xstate.spawnChild');
const runDone = (run: number, output: unknown): TaskMachineEvent => ({ type: 'RUN_DONE', run, output });
const runFailed = (run: number, error: unknown): TaskMachineEvent => ({ type: 'RUN_FAILED', run, error });
const ended = (written: boolean): TaskMachineEvent => ({ type: 'ENDED', written });
const endFailed = (error: unknown): TaskMachineEvent => ({ type: 'END_FAILED', error });
const after = afterEvent<TaskMachineEvent>;

function start() {
  return initialTransition(taskMachine, input);
}
function step(snap: Snap, ...events: TaskMachineEvent[]): [Snap, Actions] {
  let acts: Actions = [];
  for (const e of events) [snap, acts] = transition(taskMachine, snap, e);
  return [snap, acts];
}
const running = () => start()[0];
const stopping = () => step(running(), { type: 'STOP' })[0];
const reloading = () => step(running(), { type: 'RELOAD' })[0];
const ending = () => step(running(), runDone(0, 'result'))[0];
const retryingEnd = () => step(ending(), endFailed(new Error('redis down')))[0];
/** run 0 ignored its AbortSignal on a reload: run 1 was started while run 0 is still out */
const reloadedPastRun0 = () => step(reloading(), after('abortTimeout', 'task.RUNNING.reloading'))[0];
/** run 0 ignored its AbortSignal on a stop: the END write is under way while run 0 is still out */
const endingPastRun0 = () => step(stopping(), after('abortTimeout', 'task.RUNNING.stopping'))[0];

describe('task machine: which effects each step asks for (pure)', () => {
  it('a new task is RUNNING and starts its function as run 0', () => {
    const [snap, actions] = start();
    expect(snap.value).toEqual({ RUNNING: 'working' });
    expect(snap.context).toMatchObject({ id: 't1', run: 0, abandoned: false });
    expect(named(actions)).toEqual(['startRun']);
    expect(runsStarted(actions)).toEqual([{ id: 't1', run: 0 }]);
    // one actor per task: the run is an action reporting back, not a child actor
    expect(spawned(actions)).toEqual([]);
    expect(snap.children).toEqual({});
  });

  it('STOP while running enters stopping: it aborts the run and gives it abortTimeout to return', () => {
    const [snap, actions] = step(running(), { type: 'STOP' });
    expect(snap.value).toEqual({ RUNNING: 'stopping' });
    // the run is not restarted or ended by the machine itself: it keeps its chance to return;
    // the stop is kept in Redis at once, under this claim (so it holds if the worker is cut off)
    expect(named(actions)).toEqual(['abortRun', 'markToldStop']);
    expect(scheduled(actions)).toEqual({ 'xstate.after.abortTimeout.task.RUNNING.stopping': 100 });
  });

  it('RELOAD while running enters reloading: it detaches the run from control events, then aborts it', () => {
    const [snap, actions] = step(running(), { type: 'RELOAD' });
    expect(snap.value).toEqual({ RUNNING: 'reloading' });
    expect(named(actions)).toEqual(['detachRun', 'abortRun']);
    expect(scheduled(actions)).toEqual({ 'xstate.after.abortTimeout.task.RUNNING.reloading': 100 });
  });

  it('a custom EVENT while reloading is handed on (held for the next run), not ignored', () => {
    const [reloading] = step(running(), { type: 'RELOAD' });
    const [snap, actions] = step(reloading, { type: 'EVENT', name: 'pause', payload: 1 });
    expect(snap.value).toEqual({ RUNNING: 'reloading' });
    expect(named(actions)).toEqual(['deliverEvent']);
  });

  it('a custom EVENT is handed to the function, which keeps running', () => {
    const [snap, actions] = step(running(), { type: 'EVENT', name: 'pause', payload: { why: 'test' } });
    expect(snap.value).toEqual({ RUNNING: 'working' });
    expect(named(actions)).toEqual(['deliverEvent']);
  });

  it('a function that returns ends the task as succeeded, writing its result', () => {
    const [snap, actions] = step(running(), runDone(0, { rows: 3 }));
    expect(snap.value).toBe('ending');
    expect(snap.context.outcome).toBe('succeeded');
    expect(named(actions)).toEqual(['writeEnd']);
    expect(endsWritten(actions)).toEqual([{ id: 't1', lease: 'lease-1', outcome: 'succeeded', result: { rows: 3 }, error: undefined }]);
  });

  it('a function that throws ends the task as failed, writing its error', () => {
    const err = new Error('boom');
    const [snap, actions] = step(running(), runFailed(0, err));
    expect(snap.value).toBe('ending');
    expect(named(actions)).toEqual(['writeEnd']);
    expect(endsWritten(actions)).toEqual([{ id: 't1', lease: 'lease-1', outcome: 'failed', result: undefined, error: err }]);
  });

  it.each([
    ['returns', 'done'],
    ['throws', 'error'],
  ] as const)('a stopping function that %s ends the task as stopped', (_how, kind) => {
    const err = new Error('aborted');
    const [snap, actions] = step(stopping(), kind === 'done' ? runDone(0, 'partial') : runFailed(0, err));
    expect(snap.value).toBe('ending');
    expect(snap.context.outcome).toBe('stopped');
    expect(endsWritten(actions)).toEqual([
      kind === 'done'
        ? { id: 't1', lease: 'lease-1', outcome: 'stopped', result: 'partial', error: undefined }
        : { id: 't1', lease: 'lease-1', outcome: 'stopped', result: undefined, error: err },
    ]);
  });

  it('a function that ignores its AbortSignal is ended as stopped after abortTimeout', () => {
    const [snap, actions] = step(stopping(), after('abortTimeout', 'task.RUNNING.stopping'));
    expect(snap.value).toBe('ending');
    expect(snap.context.outcome).toBe('stopped');
    expect(named(actions)).toEqual(['writeEnd']);
    expect(endsWritten(actions).map((e) => e.outcome)).toEqual(['stopped']);
  });

  it.each([
    ['returns', 'done'],
    ['throws', 'error'],
  ] as const)('a reloading function that %s is started again as run 1', (_how, kind) => {
    const [snap, actions] = step(reloading(), kind === 'done' ? runDone(0, 'x') : runFailed(0, new Error('aborted')));
    expect(snap.value).toEqual({ RUNNING: 'working' });
    expect(snap.context.run).toBe(1);
    expect(snap.context.outcome).toBeUndefined();
    expect(named(actions)).toEqual(['startRun']);
    expect(runsStarted(actions)).toEqual([{ id: 't1', run: 1 }]);
  });

  it('a reloading function that ignores its AbortSignal is restarted after abortTimeout', () => {
    const [snap, actions] = step(reloading(), after('abortTimeout', 'task.RUNNING.reloading'));
    expect(snap.value).toEqual({ RUNNING: 'working' });
    expect(named(actions)).toEqual(['startRun']);
    expect(runsStarted(actions)).toEqual([{ id: 't1', run: 1 }]);
  });

  it('STOP during a reload turns it into a stop', () => {
    const [snap, actions] = step(reloading(), { type: 'STOP' });
    expect(snap.value).toEqual({ RUNNING: 'stopping' });
    expect(named(actions)).toEqual(['abortRun', 'markToldStop']);
  });

  it('the END write going through ends the task: it releases it and aborts nothing', () => {
    const [snap, actions] = step(ending(), ended(true));
    expect(snap.value).toBe('END');
    expect(snap.status).toBe('done');
    expect(named(actions)).toEqual(['releaseTask']);
    expect(snap.output).toEqual({ id: 't1', end: 'succeeded' });
  });

  it('a fenced END write (lease no longer ours) abandons the task: nothing more is written', () => {
    const [snap, actions] = step(ending(), ended(false));
    expect(snap.value).toBe('abandoned');
    expect(snap.output).toEqual({ id: 't1', end: 'abandoned' });
    expect(named(actions)).toEqual(['abortRun', 'releaseTask']);
    expect(endsWritten(actions)).toEqual([]);
  });

  it('a failed END write is reported and retried after finishRetryDelay, with the same payload', () => {
    const [snap, actions] = step(ending(), endFailed(new Error('redis down')));
    expect(snap.value).toBe('retryingEnd');
    expect(named(actions)).toEqual(['reportFinishError']);
    expect(scheduled(actions)).toEqual({ 'xstate.after.finishRetryDelay.task.retryingEnd': 50 });

    const [again, againActions] = step(snap, after('finishRetryDelay', 'task.retryingEnd'));
    expect(again.value).toBe('ending');
    expect(named(againActions)).toEqual(['writeEnd']);
    expect(endsWritten(againActions)).toEqual([{ id: 't1', lease: 'lease-1', outcome: 'succeeded', result: 'result', error: undefined }]);

    // and the retried write's report is handled like the first one's
    expect(step(again, ended(true))[0].output).toEqual({ id: 't1', end: 'succeeded' });
  });

  describe('LEASE_LOST with an END on its way changes nothing: the END says how the attempt ended', () => {
    // (a retry's END and the next claim of its id travel in one script: the new claim, or a
    // heartbeat, finds this lease gone because the END was written)
    it.each([
      ['ending', ending],
      ['retryingEnd', retryingEnd],
    ] as const)('in %s: no action; then an END written ends as it said, one refused ends abandoned', (_name, from) => {
      const [snap, actions] = step(from(), { type: 'LEASE_LOST' });
      expect(snap.value).toBe(from().value);
      expect(snap.status).toBe('active');
      expect(named(actions)).toEqual([]);
      // (from retryingEnd, through the END written again)
      const writing = snap.value === 'ending' ? snap : step(snap, after('finishRetryDelay', 'task.retryingEnd'))[0];
      expect(writing.value).toBe('ending');
      expect(step(writing, ended(true))[0].output).toEqual({ id: 't1', end: 'succeeded' });
      expect(step(writing, ended(false))[0].output).toEqual({ id: 't1', end: 'abandoned' });
    });
  });

  describe('LEASE_LOST from any other non-final state abandons the task at once', () => {
    it.each([
      ['RUNNING.working', running],
      ['RUNNING.stopping', stopping],
      ['RUNNING.reloading', reloading],
      ['halting', () => step(running(), { type: 'HALT' })[0]],
    ] as const)('from %s: aborts the run, releases the task, writes nothing, ends "abandoned"', (_name, from) => {
      const [snap, actions] = step(from(), { type: 'LEASE_LOST' });
      expect(snap.value).toBe('abandoned');
      expect(snap.status).toBe('done');
      expect(snap.context.abandoned).toBe(true);
      expect(named(actions)).toEqual(['abortRun', 'releaseTask']);
      expect(snap.output).toEqual({ id: 't1', end: 'abandoned' });
    });
  });

  describe('HALT (cut off from the swarm, or stopped past the grace)', () => {
    it.each([
      ['RUNNING.working', running],
      ['RUNNING.stopping', stopping],
      ['RUNNING.reloading', reloading],
    ] as const)('from %s: aborts the function and waits for it (halting), writing nothing', (_name, from) => {
      const [snap, actions] = step(from(), { type: 'HALT' });
      expect(snap.value).toBe('halting');
      expect(snap.status).toBe('active');
      expect(named(actions)).toEqual(['abortRun']);
      expect(scheduled(actions)).toEqual({ 'xstate.after.abortTimeout.task.halting': 100 });
    });

    it('the halted function returning or throwing abandons the task: its result is not written', () => {
      for (const report of [runDone(0, 'late result'), runFailed(0, new Error('aborted'))]) {
        const [snap, actions] = step(running(), { type: 'HALT' }, report);
        expect(snap.value).toBe('abandoned');
        expect(snap.output).toEqual({ id: 't1', end: 'abandoned' });
        expect(named(actions)).toEqual(['abortRun', 'releaseTask']);
        expect(endsWritten(actions)).toEqual([]);
      }
    });

    it('a halted function that ignores its signal is given up after abortTimeout', () => {
      const [halting] = step(running(), { type: 'HALT' });
      const [snap, actions] = step(halting, after('abortTimeout', 'task.halting'));
      expect(snap.value).toBe('abandoned');
      expect(endsWritten(actions)).toEqual([]);
    });

    // (a stop heard after a graceful stop's halt: given up, the task was handed back and ran again
    // elsewhere, though told to stop; test/stop-spares-task-told-to-stop.test.ts)
    it('told to stop while halting, it ends stopped as the halted function returns, or abortTimeout from the halt has passed', () => {
      const [told, acts] = step(running(), { type: 'HALT' }, { type: 'STOP' });
      expect(told.value).toBe('halting');
      expect(told.context.toldStop).toBe(true);
      // (kept in Redis too, if it still answers: a hand-back or a requeue then ends the task cancelled)
      expect(named(acts)).toEqual(['markToldStop']);
      expect(scheduled(acts)).toEqual({});
      for (const [report, result, error] of [
        [runDone(0, 'partial'), 'partial', undefined],
        [runFailed(0, 'aborted'), undefined, 'aborted'],
      ] as const) {
        const [snap, actions] = step(told, report);
        expect(snap.value).toBe('ending');
        expect(endsWritten(actions)).toEqual([{ id: 't1', lease: 'lease-1', outcome: 'stopped', result, error }]);
      }
      const [late, actions] = step(told, after('abortTimeout', 'task.halting'));
      expect(late.value).toBe('ending');
      expect(endsWritten(actions).map((e) => e.outcome)).toEqual(['stopped']);
    });

    it.each([
      ['ending', ending],
      ['retryingEnd', retryingEnd],
    ] as const)('in %s it changes nothing: the function has settled, its fenced END goes on', (_name, from) => {
      const before = from();
      const [snap, actions] = step(before, { type: 'HALT' });
      expect(snap.value).toEqual(before.value);
      expect(actions).toEqual([]);
    });
  });

  describe('TIMEOUT (the attempt ran past its timeout, on the worker\'s timer)', () => {
    const timeoutError = new Error('timed out after 300 ms');
    const timeout: TaskMachineEvent = { type: 'TIMEOUT', error: timeoutError };
    const timingOut = () => step(running(), timeout)[0];

    it.each([
      ['RUNNING.working', running],
      ['RUNNING.reloading (the time runs on across a reload)', reloading],
    ] as const)('from %s: enters timingOut, aborts the run (with TIMEOUT as the reason) and gives it abortTimeout', (_name, from) => {
      const [snap, actions] = step(from(), timeout);
      expect(snap.value).toEqual({ RUNNING: 'timingOut' });
      expect(snap.context.timedOut).toBe(timeoutError);
      expect(snap.context.outcome).toBeUndefined();
      expect(named(actions)).toEqual(['abortRun']);
      // abortRun is asked with the TIMEOUT event: the runtime makes its error the signal's reason
      expect(actions.find((a) => a.type === 'abortRun')!.info.event).toBe(timeout);
      expect(scheduled(actions)).toEqual({ 'xstate.after.abortTimeout.task.RUNNING.timingOut': 100 });
    });

    it.each([
      ['returns', runDone(0, 'too late')],
      ['throws', runFailed(0, new Error('aborted'))],
    ] as const)('a timed-out function that %s ends the attempt failed with the timeout error (markTimedOut)', (_how, report) => {
      const [snap, actions] = step(timingOut(), report);
      expect(snap.value).toBe('ending');
      expect(named(actions)).toEqual(['writeEnd']);
      expect(endsWritten(actions)).toEqual([{ id: 't1', lease: 'lease-1', outcome: 'failed', result: undefined, error: timeoutError }]);
    });

    it('a timed-out function that ignores its signal is ended failed with the timeout error after abortTimeout', () => {
      const [snap, actions] = step(timingOut(), after('abortTimeout', 'task.RUNNING.timingOut'));
      expect(snap.value).toBe('ending');
      expect(named(actions)).toEqual(['writeEnd']);
      expect(endsWritten(actions)).toEqual([{ id: 't1', lease: 'lease-1', outcome: 'failed', result: undefined, error: timeoutError }]);
    });

    it('a reload timed out: the old run ending ends the attempt, no new run is started', () => {
      const [snap, actions] = step(reloading(), timeout, runDone(0, 'x'));
      expect(snap.value).toBe('ending');
      expect(snap.context.run).toBe(0);
      expect(runsStarted(actions)).toEqual([]);
      expect(snap.context).toMatchObject({ outcome: 'failed', error: timeoutError });
    });

    it('a stop wins over the timeout, in either order: the task ends stopped', () => {
      const [stopped, actions] = step(timingOut(), { type: 'STOP' });
      expect(stopped.value).toEqual({ RUNNING: 'stopping' });
      expect(scheduled(actions)).toEqual({ 'xstate.after.abortTimeout.task.RUNNING.stopping': 100 });
      expect(step(stopped, runDone(0, 'x'))[0].context.outcome).toBe('stopped');
      // TIMEOUT while stopping: the stop goes on
      const [still, none] = step(stopping(), timeout);
      expect(still.value).toEqual({ RUNNING: 'stopping' });
      expect(none).toEqual([]);
    });

    it('RELOAD or EVENT while timing out changes nothing; HALT halts and LEASE_LOST abandons as always', () => {
      for (const e of [{ type: 'RELOAD' }, { type: 'EVENT', name: 'x', payload: 1 }, timeout] as TaskMachineEvent[]) {
        const [snap, actions] = step(timingOut(), e);
        expect(snap.value).toEqual({ RUNNING: 'timingOut' });
        expect(actions).toEqual([]);
      }
      expect(step(timingOut(), { type: 'HALT' })[0].value).toBe('halting');
      expect(step(timingOut(), { type: 'LEASE_LOST' })[0].output).toEqual({ id: 't1', end: 'abandoned' });
    });

    it('a report from a run a reload replaced is ignored while timing out', () => {
      const [before] = step(reloadedPastRun0(), timeout);
      const [snap, actions] = step(before, runDone(0, 'stale'));
      expect(snap.value).toEqual({ RUNNING: 'timingOut' });
      expect(actions).toEqual([]);
      expect(step(before, runDone(1, 'late'))[0].context).toMatchObject({ outcome: 'failed', error: timeoutError });
    });

    it.each([
      ['ending', ending],
      ['retryingEnd', retryingEnd],
      ['halting', () => step(running(), { type: 'HALT' })[0]],
    ] as const)('TIMEOUT in %s changes nothing: the function has settled (or is being halted)', (_name, from) => {
      const before = from();
      const [snap, actions] = step(before, timeout);
      expect(snap.value).toEqual(before.value);
      expect(snap.context).toEqual(before.context);
      expect(actions).toEqual([]);
    });
  });

  describe('a report from a run that a reload replaced is ignored', () => {
    it.each([
      ['RUNNING.working (run 1)', reloadedPastRun0],
      ['RUNNING.reloading (run 1 being reloaded)', () => step(reloadedPastRun0(), { type: 'RELOAD' })[0]],
      ['RUNNING.stopping (run 1 being stopped)', () => step(reloadedPastRun0(), { type: 'STOP' })[0]],
    ] as const)('in %s, run 0 returning or throwing changes nothing', (_name, from) => {
      const before = from();
      expect(before.context.run).toBe(1);
      for (const late of [runDone(0, 'stale'), runFailed(0, new Error('stale'))]) {
        const [snap, actions] = step(before, late);
        expect(snap.value).toEqual(before.value);
        expect(snap.context).toEqual(before.context);
        expect(actions).toEqual([]);
      }
    });

    it('while the report of the run that replaced it is handled', () => {
      const [done] = step(reloadedPastRun0(), runDone(0, 'stale'), runDone(1, 'fresh'));
      expect(done.value).toBe('ending');
      expect(done.context).toMatchObject({ outcome: 'succeeded', result: 'fresh' });

      const [failedRun] = step(reloadedPastRun0(), runDone(0, 'stale'), runFailed(1, 'fresh error'));
      expect(failedRun.context).toMatchObject({ outcome: 'failed', error: 'fresh error' });

      // a stop of run 1 is not ended early by run 0 returning, only by run 1
      const [stoppingRun1] = step(reloadedPastRun0(), { type: 'STOP' }, runDone(0, 'stale'));
      expect(stoppingRun1.value).toEqual({ RUNNING: 'stopping' });
      const [stopped, stoppedActions] = step(stoppingRun1, runFailed(1, new Error('aborted')));
      expect(stopped.context.outcome).toBe('stopped');
      expect(endsWritten(stoppedActions).map((e) => e.outcome)).toEqual(['stopped']);

      // a reload of run 1 is not restarted by run 0 returning: run 2 is started by run 1's report
      const [reloadingRun1] = step(reloadedPastRun0(), { type: 'RELOAD' }, runFailed(0, new Error('stale')));
      expect(reloadingRun1.value).toEqual({ RUNNING: 'reloading' });
      const [run2, run2Actions] = step(reloadingRun1, runFailed(1, new Error('aborted')));
      expect(run2.value).toEqual({ RUNNING: 'working' });
      expect(runsStarted(run2Actions)).toEqual([{ id: 't1', run: 2 }]);
    });
  });

  it.each([
    ['ending (a stop whose run never returned)', endingPastRun0],
    ['retryingEnd (a stop whose run never returned)', () => step(endingPastRun0(), endFailed(new Error('redis down')))[0]],
    ['ending (after the run returned)', ending],
    ['retryingEnd (after the run returned)', retryingEnd],
  ] as const)('a run report arriving in %s changes nothing', (_name, from) => {
    const before = from();
    for (const late of [runDone(0, 'late'), runFailed(0, new Error('late'))]) {
      const [snap, actions] = step(before, late);
      expect(snap.value).toEqual(before.value);
      expect(snap.context).toEqual(before.context);
      expect(actions).toEqual([]);
    }
  });

  it.each([
    ['RUNNING.working', running],
    ['RUNNING.stopping', stopping],
    ['RUNNING.reloading', reloading],
    ['retryingEnd', retryingEnd],
  ] as const)('ENDED or END_FAILED in %s (no END write in flight) changes nothing', (_name, from) => {
    const before = from();
    for (const stray of [ended(true), ended(false), endFailed(new Error('stray'))]) {
      const [snap, actions] = step(before, stray);
      expect(snap.value).toEqual(before.value);
      expect(snap.context).toEqual(before.context);
      expect(snap.status).toBe('active');
      expect(actions).toEqual([]);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Running the machine with fake effects
// ---------------------------------------------------------------------------------------------

type Self = AnyActorRef;
/** send a report to the task actor, as the runtime does: only while it is still active */
const report = (self: Self, event: TaskMachineEvent) => {
  if (self.getSnapshot().status === 'active') self.send(event);
};

interface RunCall {
  id: string;
  run: number;
  /** abortRun fired while this was the current run */
  aborted: boolean;
  settled: boolean;
  /** the function returns: RUN_DONE tagged with this run's number */
  resolve: (output: unknown) => void;
  /** the function throws: RUN_FAILED tagged with this run's number */
  reject: (error: unknown) => void;
}
interface EndCall {
  id: string;
  lease: string;
  outcome: TaskOutcome | undefined;
  result?: unknown;
  error?: unknown;
  /** the write went through: ENDED { written: true } */
  written: () => void;
  /** the write was refused, our lease was gone: ENDED { written: false } */
  fenced: () => void;
  /** the write failed: END_FAILED */
  fail: (error: unknown) => void;
}
type FinishStep = 'written' | 'fenced' | 'throws' | 'hold';

/**
 * Fake effects for the task machine. `startRun` records the run and never settles on its own:
 * the test settles it through `runs`, which sends the task actor RUN_DONE / RUN_FAILED tagged
 * with that run's number (only the first settlement counts, as for a promise). With
 * `honoursAbort`, `abortRun` makes the current run reject soon after, as a well-behaved function
 * does when its AbortSignal fires. `writeEnd` records the END write and settles it by `finish`
 * (then 'written'), asynchronously; 'hold' leaves it to the test, through `finishes`.
 */
function fakeTask(opts: { honoursAbort?: boolean; finish?: FinishStep[] } = {}) {
  const runs: RunCall[] = [];
  const finishes: EndCall[] = [];
  const actions: string[] = [];
  const plan = [...(opts.finish ?? [])];
  const logic = taskMachine.provide({
    actions: {
      startRun: ({ context, self }) => {
        const { id, run } = context;
        const call: RunCall = {
          id,
          run,
          aborted: false,
          settled: false,
          resolve: (output) => {
            if (call.settled) return;
            call.settled = true;
            report(self, { type: 'RUN_DONE', run, output });
          },
          reject: (error) => {
            if (call.settled) return;
            call.settled = true;
            report(self, { type: 'RUN_FAILED', run, error });
          },
        };
        runs.push(call);
      },
      writeEnd: ({ context, self }) => {
        const call: EndCall = {
          id: context.id,
          lease: context.lease,
          outcome: context.outcome,
          result: context.result,
          error: context.error,
          written: () => report(self, { type: 'ENDED', written: true }),
          fenced: () => report(self, { type: 'ENDED', written: false }),
          fail: (error) => report(self, { type: 'END_FAILED', error }),
        };
        finishes.push(call);
        const next = plan.shift() ?? 'written';
        if (next === 'hold') return;
        void Promise.resolve().then(() => (next === 'throws' ? call.fail(new Error('redis down')) : next === 'written' ? call.written() : call.fenced()));
      },
      abortRun: ({ context }) => {
        actions.push(`abortRun:${context.id}`);
        const current = runs.filter((r) => r.id === context.id).at(-1);
        if (!current) return;
        current.aborted = true;
        if (opts.honoursAbort) void Promise.resolve().then(() => current.reject(new Error('aborted')));
      },
      deliverEvent: ({ context, event }) => {
        if (event.type === 'EVENT') actions.push(`deliverEvent:${context.id}:${event.name}:${JSON.stringify(event.payload)}`);
      },
      detachRun: ({ context }) => {
        actions.push(`detachRun:${context.id}`);
      },
      reportFinishError: ({ context }) => {
        actions.push(`reportFinishError:${context.id}`);
      },
      markToldStop: ({ context }) => {
        actions.push(`markToldStop:${context.id}`);
      },
      releaseTask: ({ context }) => {
        actions.push(`releaseTask:${context.id}`);
      },
    },
  });
  return { logic, runs, finishes, actions };
}

/** what was asked of the END writes, without the fake's settle handles */
const written = (finishes: EndCall[]) => finishes.map(({ id, lease, outcome, result, error }) => ({ id, lease, outcome, result, error }));

/** let settled promises reach the actors */
const settle = async () => {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
};

function run(fake: ReturnType<typeof fakeTask>) {
  const clock = new SimulatedClock();
  const actor = createActor(fake.logic, { input, clock });
  const errors: unknown[] = [];
  actor.subscribe({ error: (e) => errors.push(e) });
  actor.start();
  return { actor, clock, errors };
}

describe('task machine: running with fake effects', () => {
  it('a function that resolves ends the task as succeeded: its result is written and it is released', async () => {
    const fake = fakeTask();
    const { actor, errors } = run(fake);
    expect(fake.runs.map((r) => [r.id, r.run])).toEqual([['t1', 0]]);

    fake.runs[0]!.resolve({ answer: 42 });
    await settle();

    expect(written(fake.finishes)).toEqual([{ id: 't1', lease: 'lease-1', outcome: 'succeeded', result: { answer: 42 }, error: undefined }]);
    expect(actor.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().output).toEqual({ id: 't1', end: 'succeeded' });
    expect(fake.actions).toEqual(['releaseTask:t1']);
    expect(errors).toEqual([]);
  });

  it('a function that rejects ends the task as failed, with its error written', async () => {
    const fake = fakeTask();
    const { actor } = run(fake);
    const err = new Error('boom');
    fake.runs[0]!.reject(err);
    await settle();

    expect(fake.finishes).toHaveLength(1);
    expect(fake.finishes[0]).toMatchObject({ outcome: 'failed', error: err });
    expect(actor.getSnapshot().output).toEqual({ id: 't1', end: 'failed' });
  });

  it('the task waits for its END write to be reported before it ends', async () => {
    const fake = fakeTask({ finish: ['hold'] });
    const { actor } = run(fake);
    fake.runs[0]!.resolve('ok');
    await settle();
    expect(actor.getSnapshot().value).toBe('ending');
    expect(fake.actions).toEqual([]);

    fake.finishes[0]!.written();
    await settle();
    expect(actor.getSnapshot().output).toEqual({ id: 't1', end: 'succeeded' });
    expect(fake.actions).toEqual(['releaseTask:t1']);
  });

  it('STOP fires the AbortSignal; a function that honours it ends the task as stopped', async () => {
    const fake = fakeTask({ honoursAbort: true });
    const { actor } = run(fake);
    actor.send({ type: 'STOP' });
    await settle();

    expect(fake.actions[0]).toBe('abortRun:t1');
    expect(fake.finishes.map((f) => f.outcome)).toEqual(['stopped']);
    expect(actor.getSnapshot().output).toEqual({ id: 't1', end: 'stopped' });
  });

  it('STOP with a function that never returns ends the task as stopped after abortTimeout, not before', async () => {
    const fake = fakeTask({ honoursAbort: false });
    const { actor, clock } = run(fake);
    actor.send({ type: 'STOP' });
    await settle();
    // the run was aborted on entering stopping
    expect(fake.runs[0]!.aborted).toBe(true);

    clock.increment(99);
    await settle();
    expect(actor.getSnapshot().value).toEqual({ RUNNING: 'stopping' });
    expect(fake.finishes).toEqual([]);

    clock.increment(1);
    await settle();
    expect(fake.finishes.map((f) => f.outcome)).toEqual(['stopped']);
    expect(actor.getSnapshot().output).toEqual({ id: 't1', end: 'stopped' });
    expect(fake.runs).toHaveLength(1);
  });

  it('a run that returns after its stop timed out, while the END is being written, changes nothing', async () => {
    const fake = fakeTask({ finish: ['hold'] });
    const { actor, clock } = run(fake);
    actor.send({ type: 'STOP' });
    clock.increment(100);
    await settle();
    expect(actor.getSnapshot().value).toBe('ending');

    fake.runs[0]!.resolve('too late');
    await settle();
    expect(actor.getSnapshot().value).toBe('ending');
    expect(written(fake.finishes)).toEqual([{ id: 't1', lease: 'lease-1', outcome: 'stopped', result: undefined, error: undefined }]);

    fake.finishes[0]!.written();
    await settle();
    expect(actor.getSnapshot().output).toEqual({ id: 't1', end: 'stopped' });
  });

  it('a fenced END write (written: false) ends the task "abandoned" and writes nothing more', async () => {
    const fake = fakeTask({ finish: ['fenced'] });
    const { actor, clock } = run(fake);
    fake.runs[0]!.resolve('ok');
    await settle();
    clock.increment(1000);
    await settle();

    expect(fake.finishes).toHaveLength(1);
    expect(actor.getSnapshot().output).toEqual({ id: 't1', end: 'abandoned' });
    expect(fake.actions).toContain('releaseTask:t1');
  });

  it('a failing END write is reported and retried after finishRetryDelay until it goes through', async () => {
    const fake = fakeTask({ finish: ['throws', 'throws'] });
    const { actor, clock } = run(fake);
    fake.runs[0]!.resolve('ok');
    await settle();
    expect(fake.finishes).toHaveLength(1);
    expect(actor.getSnapshot().value).toBe('retryingEnd');

    clock.increment(49);
    await settle();
    expect(fake.finishes).toHaveLength(1);

    clock.increment(1);
    await settle();
    expect(fake.finishes).toHaveLength(2);

    clock.increment(50);
    await settle();
    expect(fake.finishes).toHaveLength(3);
    expect(fake.finishes.every((f) => f.outcome === 'succeeded' && f.result === 'ok')).toBe(true);
    expect(fake.actions.filter((a) => a.startsWith('reportFinishError'))).toHaveLength(2);
    expect(actor.getSnapshot().output).toEqual({ id: 't1', end: 'succeeded' });
  });

  it('RELOAD aborts the run and starts the function again with run incremented', async () => {
    const fake = fakeTask({ honoursAbort: true });
    const { actor, clock } = run(fake);
    actor.send({ type: 'RELOAD' });
    await settle();

    expect(fake.runs.map((r) => [r.run, r.aborted])).toEqual([
      [0, true],
      [1, false],
    ]);
    expect(actor.getSnapshot().value).toEqual({ RUNNING: 'working' });
    expect(fake.finishes).toEqual([]); // the aborted first run is not an end

    // the reload's abortTimeout was cancelled when run 0 returned: run 1 is not restarted
    clock.increment(100);
    await settle();
    expect(fake.runs).toHaveLength(2);

    fake.runs[1]!.resolve('second');
    await settle();
    expect(fake.finishes.map((f) => [f.outcome, f.result])).toEqual([['succeeded', 'second']]);
  });

  it('RELOAD with a function that ignores its signal restarts it after abortTimeout', async () => {
    const fake = fakeTask({ honoursAbort: false });
    const { actor, clock } = run(fake);
    actor.send({ type: 'RELOAD' });
    clock.increment(99);
    await settle();
    expect(fake.runs).toHaveLength(1);

    clock.increment(1);
    await settle();
    expect(fake.runs.map((r) => r.run)).toEqual([0, 1]);
    expect(fake.runs[0]!.aborted).toBe(true);
    expect(fake.runs[1]!.aborted).toBe(false);
    expect(actor.getSnapshot().value).toEqual({ RUNNING: 'working' });
  });

  it.each([
    ['returns', (r: RunCall) => r.resolve('stale')],
    ['throws', (r: RunCall) => r.reject(new Error('stale'))],
  ] as const)('a replaced run that %s late is ignored; the task ends with the new run', async (_how, settleRun0) => {
    const fake = fakeTask({ honoursAbort: false });
    const { actor, clock } = run(fake);
    actor.send({ type: 'RELOAD' });
    clock.increment(100);
    await settle();
    expect(fake.runs.map((r) => r.run)).toEqual([0, 1]);

    settleRun0(fake.runs[0]!);
    await settle();
    expect(actor.getSnapshot().value).toEqual({ RUNNING: 'working' });
    expect(actor.getSnapshot().context.run).toBe(1);
    expect(fake.finishes).toEqual([]);
    expect(fake.runs).toHaveLength(2);

    fake.runs[1]!.resolve('fresh');
    await settle();
    expect(fake.finishes.map((f) => [f.outcome, f.result])).toEqual([['succeeded', 'fresh']]);
    expect(actor.getSnapshot().output).toEqual({ id: 't1', end: 'succeeded' });
  });

  it('END reports that arrive while the function runs are ignored: the task ends by its own write', async () => {
    const fake = fakeTask();
    const { actor } = run(fake);
    actor.send({ type: 'ENDED', written: true });
    actor.send({ type: 'ENDED', written: false });
    actor.send({ type: 'END_FAILED', error: new Error('stray') });
    await settle();
    expect(actor.getSnapshot().value).toEqual({ RUNNING: 'working' });
    expect(fake.actions).toEqual([]);
    expect(fake.finishes).toEqual([]);

    fake.runs[0]!.reject(new Error('boom'));
    await settle();
    expect(fake.finishes.map((f) => f.outcome)).toEqual(['failed']);
    expect(actor.getSnapshot().output).toEqual({ id: 't1', end: 'failed' });
  });

  it('a custom EVENT reaches the function with its name and payload', async () => {
    const fake = fakeTask();
    const { actor } = run(fake);
    actor.send({ type: 'EVENT', name: 'resize', payload: { to: 4 } });
    await settle();
    expect(fake.actions).toEqual(['deliverEvent:t1:resize:{"to":4}']);
    expect(fake.runs).toHaveLength(1);
  });

  it('LEASE_LOST while running aborts and releases the task, and never writes its end', async () => {
    const fake = fakeTask();
    const { actor } = run(fake);
    actor.send({ type: 'LEASE_LOST' });
    fake.runs[0]!.resolve('too late');
    await settle();

    expect(fake.actions).toEqual(['abortRun:t1', 'releaseTask:t1']);
    expect(fake.runs[0]!.aborted).toBe(true);
    expect(fake.finishes).toEqual([]);
    expect(actor.getSnapshot().output).toEqual({ id: 't1', end: 'abandoned' });
  });
});
