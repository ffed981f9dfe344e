/**
 * actors/compiled-machine.ts steps the task machine for the worker's task actors. The model-based
 * test (test/model/task.test.ts) replays every path with it and with xstate; this file covers
 * what those paths cannot see (time between steps, the done event a parent receives) and the
 * features it refuses to compile. Each behaviour is checked on both interpreters.
 */
import { describe, expect, it } from 'vitest';
import { assign, createActor, enqueueActions, fromPromise, setup, SimulatedClock, type AnyActorLogic, type AnyActorRef, type AnyEventObject } from 'xstate';
import { taskMachine, type TaskInput } from '../../machines/task.js';
import { compileMachine } from '../../actors/compiled-machine.js';
import { promiseEffect } from '../../actors/promise-effect.js';

const input: TaskInput = { id: 't1', attempt: 1, lease: 'l1', abortTimeout: 100, finishRetryDelay: 50 };

/** the task machine with effects that record what they were asked to do */
function recorded() {
  const log: string[] = [];
  const runs: Array<{ run: number; self: AnyActorRef }> = [];
  const logic = taskMachine.provide({
    actions: {
      startRun: ({ context, self }) => {
        log.push(`startRun ${context.run}`);
        runs.push({ run: context.run, self });
      },
      writeEnd: ({ context, self }) => {
        log.push(`writeEnd ${context.outcome}${context.error ? ` ${(context.error as Error).message}` : ''}`);
        void Promise.resolve().then(() => self.send({ type: 'ENDED', written: true }));
      },
      abortRun: ({ context, event }) => log.push(`abortRun ${context.run}${event.type === 'TIMEOUT' ? ' (timeout)' : ''}`),
      deliverEvent: () => log.push('deliverEvent'),
      detachRun: ({ context }) => log.push(`detachRun ${context.run}`),
      reportFinishError: () => log.push('reportFinishError'),
      markToldStop: () => log.push('markToldStop'),
      releaseTask: () => log.push('releaseTask'),
    },
  });
  return { log, runs, logic };
}

const interpreters: Array<[string, (m: typeof taskMachine) => AnyActorLogic]> = [
  ['xstate', (m) => m],
  ['compiled', (m) => compileMachine(m)],
];

describe.each(interpreters)('the task machine interpreted by %s', (_name, interpret) => {
  it('a delay counts from the latest entry of its state: leaving it cancels the earlier one', async () => {
    const { log, runs, logic } = recorded();
    const clock = new SimulatedClock();
    const actor = createActor(interpret(logic), { input, clock });
    actor.start();
    actor.send({ type: 'RELOAD' }); // reloading: abortTimeout (100) armed at t=0
    clock.increment(50);
    runs[0]!.self.send({ type: 'RUN_DONE', run: 0, output: null }); // run 0 gave up: run 1 starts
    clock.increment(10);
    actor.send({ type: 'RELOAD' }); // reloading again at t=60: its abortTimeout ends at t=160
    clock.increment(45); // t=105: the first reloading's timer would have fired at t=100
    expect(actor.getSnapshot().value).toEqual({ RUNNING: 'reloading' });
    expect(actor.getSnapshot().context.run).toBe(1);
    clock.increment(60); // t=165
    expect(actor.getSnapshot().value).toEqual({ RUNNING: 'working' });
    expect(actor.getSnapshot().context.run).toBe(2);
    expect(log).toEqual(['startRun 0', 'detachRun 0', 'abortRun 0', 'startRun 1', 'detachRun 1', 'abortRun 1', 'startRun 2']);
  });

  it('a timed-out run that ignores its signal is ended failed with the timeout error abortTimeout later, not before', async () => {
    const { log, runs, logic } = recorded();
    const clock = new SimulatedClock();
    const actor = createActor(interpret(logic), { input, clock });
    actor.start();
    actor.send({ type: 'TIMEOUT', error: new Error('timed out') });
    clock.increment(99);
    expect(actor.getSnapshot().value).toEqual({ RUNNING: 'timingOut' });
    clock.increment(1);
    await new Promise((r) => setImmediate(r));
    expect(actor.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().output).toEqual({ id: 't1', end: 'failed' });
    // its late report changes nothing
    runs[0]!.self.send({ type: 'RUN_DONE', run: 0, output: 'late' });
    expect(log).toEqual(['startRun 0', 'abortRun 0 (timeout)', 'writeEnd failed timed out', 'releaseTask']);
  });

  it("a timeout during a reload cancels the reload's timer: no new run is started, the attempt ends timed out", async () => {
    const { log, runs, logic } = recorded();
    const clock = new SimulatedClock();
    const actor = createActor(interpret(logic), { input, clock });
    actor.start();
    actor.send({ type: 'RELOAD' }); // reloading: its abortTimeout ends at t=100
    clock.increment(60);
    actor.send({ type: 'TIMEOUT', error: new Error('timed out') }); // timingOut: ends at t=160
    clock.increment(50); // t=110
    expect(actor.getSnapshot().value).toEqual({ RUNNING: 'timingOut' });
    runs[0]!.self.send({ type: 'RUN_FAILED', run: 0, error: new Error('aborted') });
    await new Promise((r) => setImmediate(r));
    expect(actor.getSnapshot().output).toEqual({ id: 't1', end: 'failed' });
    expect(log).toEqual(['startRun 0', 'detachRun 0', 'abortRun 0', 'abortRun 0 (timeout)', 'writeEnd failed timed out', 'releaseTask']);
  });

  it('a task that ends sends its parent xstate.done.actor.<id> with its output, once', async () => {
    const { log, runs, logic } = recorded();
    const got: AnyEventObject[] = [];
    // a parent that starts the task actor the way the worker does, and records what it receives
    const parent = createActor(
      setup({}).createMachine({
        on: { '*': { actions: ({ event }) => void got.push(event) } },
      }),
    );
    parent.start();
    const child = createActor(interpret(logic), { input, parent, id: 'task.t1', systemId: 'task.t1' });
    child.start();
    expect(parent.system.get('task.t1')).toBe(child);
    runs[0]!.self.send({ type: 'RUN_DONE', run: 0, output: { ok: 1 } });
    await new Promise((r) => setImmediate(r));
    expect(child.getSnapshot().status).toBe('done');
    expect(child.getSnapshot().output).toEqual({ id: 't1', end: 'succeeded' });
    expect(got.map((e) => e.type)).toEqual(['xstate.done.actor.task.t1']);
    expect(got[0]!.output).toEqual({ id: 't1', end: 'succeeded' });
    expect(parent.system.get('task.t1')).toBeUndefined(); // out of the system once done
    expect(log).toEqual(['startRun 0', 'writeEnd succeeded', 'releaseTask']);
  });

  it("the output function sees the final state's done event, as in xstate", () => {
    const seen: string[] = [];
    const m = setup({}).createMachine({
      initial: 'a',
      states: { a: { on: { FIN: 'b' } }, b: { type: 'final' } },
      output: ({ event }) => void seen.push(event.type),
    });
    const a = createActor(interpret(m as unknown as typeof taskMachine) as AnyActorLogic);
    a.start();
    a.send({ type: 'FIN' });
    expect(a.getSnapshot().status).toBe('done');
    expect(seen).toEqual([`xstate.done.state.${m.id}.b`]);
  });

  it('an action that throws crashes the actor: its parent receives xstate.error.actor.<id>', () => {
    const logic = recorded().logic.provide({
      actions: {
        deliverEvent: () => {
          throw new Error('listener bug');
        },
      },
    });
    const got: AnyEventObject[] = [];
    const parent = createActor(setup({}).createMachine({ on: { '*': { actions: ({ event }) => void got.push(event) } } }));
    parent.start();
    const child = createActor(interpret(logic), { input, parent, id: 'task.t1' });
    child.start();
    child.send({ type: 'EVENT', name: 'x', payload: null });
    expect(child.getSnapshot().status).toBe('error');
    expect(got.map((e) => e.type)).toEqual(['xstate.error.actor.task.t1']);
  });
});

describe.each([
  ['xstate', (m: AnyActorLogic) => m],
  ['compiled', (m: AnyActorLogic) => compileMachine(m as never)],
] as const)('actions interpreted by %s', (_name, interpret) => {
  it('an action keeps the context it was called with, even when it runs after the step (at start)', () => {
    const seen: number[] = [];
    const m = setup({
      types: { context: {} as { n: number } },
      actions: { log: ({ context }) => void seen.push(context.n) },
    }).createMachine({
      context: { n: 0 },
      entry: ['log', assign({ n: 1 }), 'log', assign({ n: 2 })],
      on: { GO: { actions: ['log', assign({ n: 3 }), 'log'] } },
    });
    const actor = createActor(interpret(m) as unknown as typeof m).start();
    actor.send({ type: 'GO' });
    expect(seen).toEqual([0, 1, 2, 3]);
  });
});

/**
 * A promise effect (actors/promise-effect.ts) is an xstate promise actor to xstate and runs
 * without an xstate Actor in a compiled machine: the machine must not tell the two apart.
 */
describe.each([
  ['xstate', (m: AnyActorLogic) => m],
  ['compiled', (m: AnyActorLogic) => compileMachine(m as never)],
] as const)('a promise effect invoked by a machine interpreted by %s', (_name, interpret) => {
  function effectMachine() {
    const calls: Array<{ input: number; signal: AbortSignal; resolve(v: string): void; reject(e: unknown): void }> = [];
    const m = setup({
      types: { context: {} as { n: number; got: string[] } },
      actors: {
        fetch: promiseEffect<string, number>(
          ({ input, signal }) => new Promise<string>((resolve, reject) => void calls.push({ input, signal, resolve, reject })),
        ),
      },
    }).createMachine({
      context: { n: 0, got: [] },
      initial: 'fetching',
      states: {
        fetching: {
          entry: assign({ n: ({ context }) => context.n + 1 }),
          invoke: {
            src: 'fetch',
            input: ({ context }) => context.n,
            onDone: { target: 'idle', actions: assign({ got: ({ context, event }) => [...context.got, event.output] }) },
            onError: { target: 'failed' },
          },
          on: { AGAIN: { target: 'fetching', reenter: true }, LEAVE: 'idle' },
        },
        idle: { on: { AGAIN: 'fetching' } },
        failed: { type: 'final' },
      },
    });
    return { calls, logic: interpret(m) as unknown as typeof m };
  }

  it('delivers its output to the invoking state, with the input it was given', async () => {
    const { calls, logic } = effectMachine();
    const actor = createActor(logic).start();
    expect(calls.map((c) => c.input)).toEqual([1]);
    calls[0]!.resolve('one');
    await Promise.resolve();
    await Promise.resolve();
    expect(actor.getSnapshot().value).toBe('idle');
    expect(actor.getSnapshot().context.got).toEqual(['one']);
  });

  it('once its state is left (even re-entered), its signal is aborted and its late result is ignored', async () => {
    const { calls, logic } = effectMachine();
    const actor = createActor(logic).start();
    actor.send({ type: 'AGAIN' }); // the same invoke id, a new effect
    expect(calls.map((c) => [c.input, c.signal.aborted])).toEqual([
      [1, true],
      [2, false],
    ]);
    calls[0]!.resolve('stale');
    await new Promise((r) => setImmediate(r));
    expect(actor.getSnapshot().value).toBe('fetching'); // the stale result did not end the new fetch
    calls[1]!.resolve('fresh');
    await new Promise((r) => setImmediate(r));
    expect(actor.getSnapshot().context.got).toEqual(['fresh']);
  });

  it('tells the effect it was abandoned through aborted() as through its signal', async () => {
    const seen: boolean[] = [];
    const m = setup({
      actors: { wait: promiseEffect<void>(async ({ aborted }) => void (await new Promise((r) => setTimeout(r, 5)), seen.push(aborted()))) },
    }).createMachine({ initial: 'a', states: { a: { invoke: { src: 'wait' }, on: { LEAVE: 'b' } }, b: {} } });
    const actor = createActor(interpret(m) as unknown as typeof m).start();
    actor.send({ type: 'LEAVE' });
    const again = createActor(interpret(m) as unknown as typeof m).start();
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).toEqual([true, false]);
    again.stop();
  });

  it('its error reaches onError as the event xstate would send', async () => {
    const errors: unknown[] = [];
    const m = setup({
      actors: { fail: promiseEffect<void>(async () => Promise.reject(new Error('boom'))) },
    }).createMachine({
      initial: 'a',
      states: { a: { invoke: { id: 'f', src: 'fail', onError: { target: 'b', actions: ({ event }) => errors.push(event) } } }, b: {} },
    });
    createActor(interpret(m) as unknown as typeof m).start();
    await new Promise((r) => setImmediate(r));
    expect(errors).toEqual([{ type: 'xstate.error.actor.f', error: new Error('boom'), actorId: 'f' }]);
  });

  it('its rejection takes the onError transition; a rejection after leaving is ignored', async () => {
    const { calls, logic } = effectMachine();
    const actor = createActor(logic).start();
    actor.send({ type: 'LEAVE' });
    calls[0]!.reject(new Error('late'));
    await new Promise((r) => setImmediate(r));
    expect(actor.getSnapshot().value).toBe('idle');
    actor.send({ type: 'AGAIN' });
    calls[1]!.reject(new Error('boom'));
    await new Promise((r) => setImmediate(r));
    expect(actor.getSnapshot().status).toBe('done');
  });
});

describe('compileMachine refuses what it does not implement, naming it', () => {
  it('an enqueueActions that enqueues what is not implemented fails the step, naming it', () => {
    const m = setup({}).createMachine({
      on: { GO: { actions: enqueueActions(({ enqueue }) => enqueue.raise({ type: 'X' })) } },
    });
    const actor = createActor(compileMachine(m) as unknown as typeof m);
    const errors: unknown[] = [];
    actor.subscribe({ error: (e) => errors.push(e) });
    actor.start();
    actor.send({ type: 'GO' });
    expect(String(errors[0])).toMatch(/enqueue\.raise .* is not supported/);
  });

  it.each([
    ['the "*" descriptor', setup({}).createMachine({ on: { '*': {} } }), /"\*" event descriptor/],
    ['parallel states', setup({}).createMachine({ type: 'parallel', states: { a: {}, b: {} } }), /parallel state/],
    ['invoke with onSnapshot', setup({ actors: { p: fromPromise(async () => {}) } }).createMachine({ invoke: { src: 'p', onSnapshot: {} } }), /onSnapshot/],
    ['an unimplemented action', setup({}).createMachine({ entry: 'nope' as never }), /action "nope"/],
    ['exit actions', setup({ actions: { x: () => {} } }).createMachine({ initial: 'a', states: { a: { exit: 'x' } } }), /exit actions/],
    ["a final state's own output", setup({}).createMachine({ initial: 'a', states: { a: { type: 'final', output: 1 } } }), /own output/],
  ])('%s', (_what, machine, message) => {
    expect(() => compileMachine(machine)).toThrow(message);
  });
});
