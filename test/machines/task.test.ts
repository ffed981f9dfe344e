/**
 * The task machine, with every effect replaced by a fake.
 *
 * Layer 1 asks the pure `transition()` which effects a step requests (named actions, invoked
 * actor sources, scheduled delays) without running any of them. Layer 2 runs the machine as an
 * actor with fake effects that record their calls, on a SimulatedClock where delays matter.
 */
import { describe, it, expect } from 'vitest';
import { createActor, fromPromise, initialTransition, transition, SimulatedClock, type AnyActorRef } from 'xstate';
import { taskMachine, type TaskEvent, type TaskInput, type TaskOutcome } from '../../machines/task.js';

const input: TaskInput = { id: 't1', attempt: 2, lease: 'lease-1', abortTimeout: 100, finishRetryDelay: 50 };

// ---------------------------------------------------------------------------------------------
// Helpers for the pure layer
// ---------------------------------------------------------------------------------------------

type Snap = ReturnType<typeof initialTransition<typeof taskMachine>>[0];
type Actions = ReturnType<typeof transition<typeof taskMachine>>[1];

/** names of the machine's own (non-builtin) actions, in order */
const named = (actions: Actions) => actions.map((a) => a.type).filter((t) => !t.startsWith('xstate.'));
/** the actor sources a step starts, with their input */
const invoked = (actions: Actions) =>
  actions
    .filter((a) => a.type === 'xstate.spawnChild')
    .map((a) => {
      const p = a.params as { src: unknown; actorRef?: AnyActorRef };
      return { src: p.src, input: (p.actorRef as unknown as { options?: { input?: unknown } } | undefined)?.options?.input };
    });
/** delayed events a step schedules: event type -> delay (ms) */
const scheduled = (actions: Actions) =>
  Object.fromEntries(
    actions
      .filter((a) => a.type === 'xstate.raise' && (a.params as { delay?: number }).delay !== undefined)
      .map((a) => {
        const p = a.params as { event: { type: string }; delay: number };
        return [p.event.type, p.delay];
      }),
  );
/** the id under which the snapshot holds the child started from `src` */
const childOf = (snap: Snap, src: string): string => {
  const hit = Object.entries(snap.children).find(([, ref]) => (ref as AnyActorRef | undefined)?.src === src);
  if (!hit) throw new Error(`no child actor from "${src}" in ${JSON.stringify(snap.value)}`);
  return hit[0];
};
const done = (snap: Snap, src: string, output: unknown) => ({ type: `xstate.done.actor.${childOf(snap, src)}`, output }) as unknown as TaskEvent;
const failed = (snap: Snap, src: string, error: unknown) => ({ type: `xstate.error.actor.${childOf(snap, src)}`, error }) as unknown as TaskEvent;
const after = (delay: string, stateId: string) => ({ type: `xstate.after.${delay}.${stateId}` }) as unknown as TaskEvent;

function start() {
  return initialTransition(taskMachine, input);
}
function step(snap: Snap, ...events: TaskEvent[]): [Snap, Actions] {
  let acts: Actions = [];
  for (const e of events) [snap, acts] = transition(taskMachine, snap, e);
  return [snap, acts];
}
const running = () => start()[0];
const stopping = () => step(running(), { type: 'STOP' })[0];
const reloading = () => step(running(), { type: 'RELOAD' })[0];
const ending = () => {
  const s = running();
  return step(s, done(s, 'runTask', 'result'))[0];
};
const retryingEnd = () => {
  const s = ending();
  return step(s, failed(s, 'finishTask', new Error('redis down')))[0];
};

describe('task machine: which effects each step asks for (pure)', () => {
  it('a new task is RUNNING and starts its function as run 0', () => {
    const [snap, actions] = start();
    expect(snap.value).toEqual({ RUNNING: 'working' });
    expect(snap.context).toMatchObject({ id: 't1', run: 0, abandoned: false });
    expect(invoked(actions)).toEqual([{ src: 'runTask', input: { id: 't1', run: 0 } }]);
    expect(named(actions)).toEqual([]);
  });

  it('STOP while running enters stopping: it aborts the run and gives it abortTimeout to return', () => {
    const [snap, actions] = step(running(), { type: 'STOP' });
    expect(snap.value).toEqual({ RUNNING: 'stopping' });
    expect(named(actions)).toEqual(['abortRun']);
    expect(scheduled(actions)).toEqual({ 'xstate.after.abortTimeout.task.RUNNING.stopping': 100 });
    // the run is not restarted or stopped by the machine itself: it keeps its chance to return
    expect(invoked(actions)).toEqual([]);
  });

  it('RELOAD while running enters reloading: it aborts the run', () => {
    const [snap, actions] = step(running(), { type: 'RELOAD' });
    expect(snap.value).toEqual({ RUNNING: 'reloading' });
    expect(named(actions)).toEqual(['abortRun']);
    expect(scheduled(actions)).toEqual({ 'xstate.after.abortTimeout.task.RUNNING.reloading': 100 });
  });

  it('a custom EVENT is handed to the function, which keeps running', () => {
    const [snap, actions] = step(running(), { type: 'EVENT', name: 'pause', payload: { why: 'test' } });
    expect(snap.value).toEqual({ RUNNING: 'working' });
    expect(named(actions)).toEqual(['deliverEvent']);
    expect(invoked(actions)).toEqual([]);
  });

  it('a function that returns ends the task as succeeded, writing its result', () => {
    const s = running();
    const [snap, actions] = step(s, done(s, 'runTask', { rows: 3 }));
    expect(snap.value).toBe('ending');
    expect(snap.context.outcome).toBe('succeeded');
    expect(invoked(actions)).toEqual([
      { src: 'finishTask', input: { id: 't1', lease: 'lease-1', outcome: 'succeeded', result: { rows: 3 }, error: undefined } },
    ]);
  });

  it('a function that throws ends the task as failed, writing its error', () => {
    const s = running();
    const err = new Error('boom');
    const [snap, actions] = step(s, failed(s, 'runTask', err));
    expect(snap.value).toBe('ending');
    expect(invoked(actions)).toEqual([
      { src: 'finishTask', input: { id: 't1', lease: 'lease-1', outcome: 'failed', result: undefined, error: err } },
    ]);
  });

  it.each([
    ['returns', 'done'],
    ['throws', 'error'],
  ] as const)('a stopping function that %s ends the task as stopped', (_how, kind) => {
    const s = stopping();
    const ev = kind === 'done' ? done(s, 'runTask', 'partial') : failed(s, 'runTask', new Error('aborted'));
    const [snap] = step(s, ev);
    expect(snap.value).toBe('ending');
    expect(snap.context.outcome).toBe('stopped');
  });

  it('a function that ignores its AbortSignal is ended as stopped after abortTimeout', () => {
    const [snap, actions] = step(stopping(), after('abortTimeout', 'task.RUNNING.stopping'));
    expect(snap.value).toBe('ending');
    expect(snap.context.outcome).toBe('stopped');
    expect(invoked(actions).map((i) => i.src)).toEqual(['finishTask']);
  });

  it.each([
    ['returns', 'done'],
    ['throws', 'error'],
  ] as const)('a reloading function that %s is started again as run 1', (_how, kind) => {
    const s = reloading();
    const ev = kind === 'done' ? done(s, 'runTask', 'x') : failed(s, 'runTask', new Error('aborted'));
    const [snap, actions] = step(s, ev);
    expect(snap.value).toEqual({ RUNNING: 'working' });
    expect(snap.context.run).toBe(1);
    expect(snap.context.outcome).toBeUndefined();
    expect(invoked(actions)).toEqual([{ src: 'runTask', input: { id: 't1', run: 1 } }]);
  });

  it('a reloading function that ignores its AbortSignal is restarted after abortTimeout', () => {
    const [snap, actions] = step(reloading(), after('abortTimeout', 'task.RUNNING.reloading'));
    expect(snap.value).toEqual({ RUNNING: 'working' });
    expect(invoked(actions)).toEqual([{ src: 'runTask', input: { id: 't1', run: 1 } }]);
  });

  it('STOP during a reload turns it into a stop', () => {
    const [snap, actions] = step(reloading(), { type: 'STOP' });
    expect(snap.value).toEqual({ RUNNING: 'stopping' });
    expect(named(actions)).toEqual(['abortRun']);
  });

  it('the END write going through ends the task: it releases it and aborts nothing', () => {
    const s = ending();
    const [snap, actions] = step(s, done(s, 'finishTask', { written: true }));
    expect(snap.value).toBe('END');
    expect(snap.status).toBe('done');
    expect(named(actions)).toEqual(['releaseTask']);
    expect(snap.output).toEqual({ id: 't1', end: 'succeeded' });
  });

  it('a fenced END write (lease no longer ours) abandons the task: nothing more is written', () => {
    const s = ending();
    const [snap, actions] = step(s, done(s, 'finishTask', { written: false }));
    expect(snap.value).toBe('abandoned');
    expect(snap.output).toEqual({ id: 't1', end: 'abandoned' });
    expect(invoked(actions)).toEqual([]);
  });

  it('a failed END write is reported and retried after finishRetryDelay, with the same payload', () => {
    const s = ending();
    const [snap, actions] = step(s, failed(s, 'finishTask', new Error('redis down')));
    expect(snap.value).toBe('retryingEnd');
    expect(named(actions)).toEqual(['reportFinishError']);
    expect(scheduled(actions)).toEqual({ 'xstate.after.finishRetryDelay.task.retryingEnd': 50 });

    const [again, againActions] = step(snap, after('finishRetryDelay', 'task.retryingEnd'));
    expect(again.value).toBe('ending');
    expect(invoked(againActions)).toEqual([
      { src: 'finishTask', input: { id: 't1', lease: 'lease-1', outcome: 'succeeded', result: 'result', error: undefined } },
    ]);
  });

  describe.each(['LEASE_LOST', 'HALT'] as const)('%s from any non-final state abandons the task', (type) => {
    it.each([
      ['RUNNING.working', running],
      ['RUNNING.stopping', stopping],
      ['RUNNING.reloading', reloading],
      ['ending', ending],
      ['retryingEnd', retryingEnd],
    ] as const)('from %s: aborts the run, releases the task, writes nothing, ends "abandoned"', (_name, from) => {
      const [snap, actions] = step(from(), { type });
      expect(snap.value).toBe('abandoned');
      expect(snap.status).toBe('done');
      expect(snap.context.abandoned).toBe(true);
      expect(named(actions)).toEqual(['abortRun', 'releaseTask']);
      expect(invoked(actions)).toEqual([]);
      expect(snap.output).toEqual({ id: 't1', end: 'abandoned' });
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Running the machine with fake effects
// ---------------------------------------------------------------------------------------------

interface RunCall {
  input: { id: string; run: number };
  signal: AbortSignal;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}
interface FinishInput {
  id: string;
  lease: string;
  outcome: TaskOutcome;
  result?: unknown;
  error?: unknown;
}
type FinishStep = 'written' | 'fenced' | 'throws';

/**
 * Fake effects for the task machine. `runTask` never settles on its own: the test settles it
 * through `runs`. With `honoursAbort`, `abortRun` makes the current run reject, as a well-behaved
 * function does when its AbortSignal fires. `finishTask` follows `finish`, then writes.
 */
function fakeTask(opts: { honoursAbort?: boolean; finish?: FinishStep[] } = {}) {
  const runs: RunCall[] = [];
  const finishes: FinishInput[] = [];
  const actions: string[] = [];
  const plan = [...(opts.finish ?? [])];
  const logic = taskMachine.provide({
    actions: {
      abortRun: ({ context }) => {
        actions.push(`abortRun:${context.id}`);
        const current = runs.filter((r) => r.input.id === context.id).at(-1);
        if (current && opts.honoursAbort) current.reject(new Error('aborted'));
      },
      deliverEvent: ({ context, event }) => {
        if (event.type === 'EVENT') actions.push(`deliverEvent:${context.id}:${event.name}:${JSON.stringify(event.payload)}`);
      },
      reportFinishError: ({ context }) => {
        actions.push(`reportFinishError:${context.id}`);
      },
      releaseTask: ({ context }) => {
        actions.push(`releaseTask:${context.id}`);
      },
    },
    actors: {
      runTask: fromPromise<unknown, { id: string; run: number }>(
        ({ input, signal }) => new Promise((resolve, reject) => runs.push({ input, signal, resolve, reject })),
      ),
      finishTask: fromPromise<{ written: boolean }, FinishInput>(async ({ input }) => {
        finishes.push(input);
        const next = plan.shift() ?? 'written';
        if (next === 'throws') throw new Error('redis down');
        return { written: next === 'written' };
      }),
    },
  });
  return { logic, runs, finishes, actions };
}

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
    expect(fake.runs.map((r) => r.input)).toEqual([{ id: 't1', run: 0 }]);

    fake.runs[0]!.resolve({ answer: 42 });
    await settle();

    expect(fake.finishes).toEqual([{ id: 't1', lease: 'lease-1', outcome: 'succeeded', result: { answer: 42 }, error: undefined }]);
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

    clock.increment(99);
    await settle();
    expect(actor.getSnapshot().value).toEqual({ RUNNING: 'stopping' });
    expect(fake.finishes).toEqual([]);

    clock.increment(1);
    await settle();
    expect(fake.finishes.map((f) => f.outcome)).toEqual(['stopped']);
    expect(actor.getSnapshot().output).toEqual({ id: 't1', end: 'stopped' });
    // leaving RUNNING stops the runTask actor, which aborts the signal it was given
    expect(fake.runs[0]!.signal.aborted).toBe(true);
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
    const { actor } = run(fake);
    actor.send({ type: 'RELOAD' });
    await settle();

    expect(fake.runs.map((r) => r.input)).toEqual([
      { id: 't1', run: 0 },
      { id: 't1', run: 1 },
    ]);
    expect(actor.getSnapshot().value).toEqual({ RUNNING: 'working' });
    expect(fake.finishes).toEqual([]); // the aborted first run is not an end

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
    expect(fake.runs.map((r) => r.input.run)).toEqual([0, 1]);
    expect(fake.runs[0]!.signal.aborted).toBe(true);
    expect(actor.getSnapshot().value).toEqual({ RUNNING: 'working' });
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
    expect(fake.finishes).toEqual([]);
    expect(actor.getSnapshot().output).toEqual({ id: 't1', end: 'abandoned' });
  });
});
