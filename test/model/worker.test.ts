/**
 * Model-based test of the worker machine (xstate/graph).
 *
 * The abstract state is the state value and the set of running task ids (ids come from a pool
 * of `concurrency` names: "0 / some / full", plus which ones, so that events naming a task
 * replay). Paths covering every edge of that graph are replayed against the worker provided
 * with controllable effects on a SimulatedClock, in two ways:
 *
 * - "fake children": each task child is a fake that ignores HALT and ends only when the path
 *   says so. The model is the machine's own transitions (children do not react), and every
 *   state and transition of the machine is covered. Invariant: a halted or partitioned worker
 *   has told every task it still holds to HALT.
 * - "real children": each task child is the real task machine, its function (startRun) and
 *   END write (writeEnd) faked as the runtime's actions are: they report back by events (the
 *   function when the replay settles it, the END write at once, written), and abortRun fires
 *   the signal of the latest run. The model adds what a real task does when the worker sends
 *   it HALT or LEASE_LOST: it ends abandoned at once. Invariants: a halted worker runs no task (no child, no
 *   function); a task told HALT or LEASE_LOST ends abandoned and writes no END. Partitioned's
 *   own STOP and abortTimeout transitions are unreachable this way (asserted).
 *
 * At every step of both: the worker took the model's transitions (compared microstep by
 * microstep through the inspection API), its `running` is the set of its live task children
 * and every function running belongs to one, the effects running are exactly those of its
 * active states (so no claim or queue wait while probing, redisDown, halted, partitioned or
 * draining, and nothing at all once stopped), and events come from the effect that sends them
 * at run time (redisWatch, awaitRedis, heartbeat, controlListener) when one is running.
 *
 * Found: a crashed task actor's function is never aborted (see task-crash.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { createActor, setup, SimulatedClock, type AnyEventObject, type InspectionEvent } from 'xstate';
import { workerMachine, type ClaimedTask, type WorkerInput } from '../../machines/worker.js';
import { compileMachine } from '../../actors/compiled-machine.js';
import { TaskMachines } from '../../actors/task-machines.js';
import { taskMachine, type TaskInput, type TaskOutput } from '../../machines/task.js';
import {
  cached,
  coverageOf,
  definitionOf,
  edgeCoveringPaths,
  callbackVia,
  Effects,
  eventsFor,
  invokedSrcs,
  logicOf,
  missing,
  planOf,
  plansFor,
  promiseVia,
  pureStepper,
  reportingVia,
  rootTransitions,
  settle,
  type Payloads,
  type Plan,
  type Snap,
  type StepResult,
  type Stepper,
} from './harness.js';

type Variant = 'fake children' | 'real children';

const baseInput: WorkerInput = {
  concurrency: 2,
  fetchTaskInterval: 200,
  fetchWorkerInterval: 300,
  partitionPercentage: 60,
  stopGrace: 500,
  abortTimeout: 100,
  finishRetryDelay: 50,
};
/**
 * With real task children the worker's abortTimeout is also theirs: make it long, so that a
 * stopping or reloading child never ends on its own timer while the replay advances the clock
 * for the worker's timers. (The worker's own abortTimeout timer, in partitioned, is unreachable
 * with real children: see below.)
 */
const inputs: Record<Variant, WorkerInput> = {
  'fake children': baseInput,
  'real children': { ...baseInput, abortTimeout: 1_000_000_000 },
};

/** task ids are drawn from this pool, lowest free first */
const POOL = ['a', 'b'];
const running = (s: Snap): string[] => s.context.running;
const abstract = (s: Snap) => JSON.stringify([s.value, [...running(s)].sort()]);
const claim = (ids: string[]): { tasks: ClaimedTask[] } => ({ tasks: ids.map((id) => ({ id, attempt: 1, lease: `lease-${id}` })) });
const fail = () => [{ message: 'fake failure' }];

/** what a claim returns: no task, one, or enough to fill every free slot */
const claimOutputs = (s: Snap) => {
  const free = POOL.filter((id) => !running(s).includes(id)).slice(0, s.context.concurrency - running(s).length);
  const outs = [claim([])];
  if (free.length >= 1) outs.push(claim(free.slice(0, 1)));
  if (free.length >= 2) outs.push(claim(free));
  return outs;
};

const payloads: Payloads = {
  done: {
    register: () => [undefined],
    claimTasks: claimOutputs,
    // woken (or the poll came round), then claimed
    waitForTask: claimOutputs,
    // below partitionPercentage (60), above it, and no peer known at all
    probePeers: () => [
      { reached: 1, total: 4 },
      { reached: 3, total: 4 },
      { reached: 0, total: 0 },
    ],
    reconcile: (s) => [{ lost: [] }, ...(running(s).length ? [{ lost: [running(s)[0]] }] : [])],
    recoverClaims: () => [undefined],
    handBack: () => [undefined],
    deregister: () => [undefined],
  },
  error: {
    register: fail,
    claimTasks: fail,
    waitForTask: fail,
    probePeers: fail,
    reconcile: fail,
    recoverClaims: fail,
    handBack: fail,
    deregister: fail,
  },
  events: {
    STOP: () => [{ type: 'STOP' }],
    REDIS_LOST: () => [{ type: 'REDIS_LOST' }],
    REDIS_BACK: () => [{ type: 'REDIS_BACK' }],
    LEASES_LOST: (s) => [{ type: 'LEASES_LOST', ids: [...running(s).slice(0, 1), 'ghost'] }],
    // the runtime's end batch: these tasks' functions settled, their ENDs are on their way
    TASKS_SETTLED: (s) => [{ type: 'TASKS_SETTLED', ids: running(s).slice(0, 1) }],
    CONTROL: (s) => {
      const id = running(s)[0];
      if (!id) return [{ type: 'CONTROL', id: 'ghost', command: 'stop' }];
      return [
        { type: 'CONTROL', id, command: 'stop' },
        { type: 'CONTROL', id, command: 'reload' },
        { type: 'CONTROL', id, command: 'event', name: 'resize', payload: { to: 4 } },
      ];
    },
    // the runtime: these task machines ended (one at a time here), or one crashed
    TASKS_ENDED: (s) => running(s).map((id) => ({ type: 'TASKS_ENDED', ids: [id] })),
    TASK_CRASHED: (s) => running(s).map((id) => ({ type: 'TASK_CRASHED', id, error: { message: 'task machine crashed' } })),
  },
};
const events = (s: Snap) => eventsFor(s, payloads);

/** HALT and LEASE_LOST sent to task children by a step's actions, as child ids */
const abandoning = (r: StepResult): string[] =>
  r.actions
    .filter((a) => a.type === 'tellTask' && ['HALT', 'LEASE_LOST'].includes(a.params?.event?.type))
    .map((a) => `task.${String(a.params.id)}`);

/**
 * The worker with real task children: a child told LEASE_LOST ends abandoned at once; one told
 * HALT aborts its function, which here honours its signal, and ends abandoned as it returns (the
 * task machine's model test checks both, and the wait for a function that does not return, from
 * every state). The worker receives the done event right after the step that sent it. (In these
 * replays a task the worker counts as settled still runs its function: TASKS_SETTLED is sent to
 * the worker alone, so a HALT abandons it too.)
 */
function withRealChildren(base: Stepper): Stepper {
  const react = (first: StepResult): StepResult => {
    let cur = first;
    const transitions = [...first.transitions];
    const nodes = new Set(first.nodes);
    const actions = [...first.actions];
    for (;;) {
      const ids = [...new Set(abandoning(cur).map((child) => child.slice('task.'.length)))].filter((id) => running(cur.snapshot).includes(id));
      if (cur.snapshot.status !== 'active' || ids.length === 0) break;
      cur = base.step(cur.snapshot, { type: 'TASKS_ENDED', ids });
      transitions.push(...cur.transitions);
      cur.nodes.forEach((n) => nodes.add(n));
      actions.push(...cur.actions);
    }
    return { snapshot: cur.snapshot, transitions, nodes: [...nodes], actions };
  };
  return { init: (i) => react(base.init(i)), step: (s, e) => react(base.step(s, e)) };
}

const definition = definitionOf(workerMachine);
const plain = pureStepper(workerMachine);
const steppers: Record<Variant, Stepper> = {
  'fake children': cached(plain, abstract),
  'real children': cached(withRealChildren(plain), abstract),
};

function plansOf(variant: Variant) {
  const stepper = steppers[variant];
  // TestModel traverses the machine through the same (cached) pure steps that give the
  // replay its expectations; with real children, composed with the children's reactions
  const logic = logicOf(workerMachine, stepper);
  const paths = edgeCoveringPaths(logic, { input: inputs[variant], abstract, events });
  return plansFor(paths, stepper, inputs[variant], events, abstract);
}

/** A task child for the "fake children" runs: it ignores every event but the replay's. */
const fakeTask = setup({
  types: { input: {} as TaskInput, context: {} as { id: string }, output: {} as TaskOutput },
  actions: {
    crash: () => {
      throw new Error('task actor crashed');
    },
  },
}).createMachine({
  id: 'fakeTask',
  context: ({ input }) => ({ id: input.id }),
  initial: 'alive',
  states: {
    alive: { on: { '@test.finish': 'ended', '@test.crash': { actions: 'crash' } } },
    ended: { type: 'final' },
  },
  output: ({ context }) => ({ id: context.id, end: 'succeeded' }),
});


const NO_FETCH = ['probing', 'redisDown', 'halted', 'partitioned', 'draining', 'handingBack', 'releasing', 'deregistering', 'stopped', 'failed'];
const HALTED = ['halted', 'partitioned'];

/** What one replay records; the machines below, provided once, report to the current one. */
class Sut {
  readonly fx = new Effects(); // the worker's effects
  readonly tfx = new Effects(); // the task functions of real children
  readonly clock = new SimulatedClock();
  /** events the worker sent to its task children: id -> [step, type] */
  readonly told = new Map<string, Array<[number, string]>>();
  /** END writes of real children: [step, id] */
  readonly finishes: Array<[number, string]> = [];
  /** how each task child ended, from the done events the worker received: id -> end */
  readonly ends = new Map<string, string>();
  /** ids whose task actor the replay makes crash */
  readonly crashIds = new Set<string>();
  readonly reports: string[] = [];
  /** transitions the worker takes during the current step */
  sink: string[] | undefined = [];
  /** the worker's task machines */
  machines!: TaskMachines;
}
let sut = new Sut();

/** the function runs of one task actor (ids come back from the pool: by session), in order */
const runsOf = (session: string) => sut.tfx.calls.filter((c) => c.src === 'startRun' && c.input.session === session);
const realTask = taskMachine.provide({
  actions: {
    // as the runtime: the function of run `context.run` reports RUN_DONE / RUN_FAILED with it
    startRun: reportingVia('startRun', () => sut.tfx, (c: { id: string; run: number }, self) => ({ id: c.id, run: c.run, session: self.sessionId }), {
      done: (output, i) => ({ type: 'RUN_DONE', run: i.run, output }),
      error: (error, i) => ({ type: 'RUN_FAILED', run: i.run, error }),
    }),
    // the END write: recorded, and reported written (ENDED) once the current event is handled
    writeEnd: ({ context, self }) => {
      sut.finishes.push([sut.fx.step, context.id]);
      void Promise.resolve().then(() => {
        if (self.getSnapshot().status === 'active') self.send({ type: 'ENDED', written: true });
      });
    },
    // as the runtime: fire the signal of the task's latest run, unless it has settled; a halted
    // function honours its signal (returns at once), as the worker's model assumes
    abortRun: ({ context, self, event }) => {
      if (sut.crashIds.has(context.id)) throw new Error('task actor crashed');
      const last = runsOf(self.sessionId).at(-1);
      if (last?.status !== 'pending') return;
      last.abort(new Error(`task ${context.id} aborted`));
      if (event.type === 'HALT') last.reject(new Error(`task ${context.id} aborted: halted`));
    },
    deliverEvent: () => {},
    reportFinishError: () => {},
    releaseTask: () => {},
  },
});
const workerWith = () =>
  workerMachine.provide({
    actors: {
      ...Object.fromEntries(
        ['register', 'claimTasks', 'waitForTask', 'probePeers', 'reconcile', 'recoverClaims', 'handBack', 'deregister'].map((src) => [src, promiseVia(src, () => sut.fx)]),
      ),
      ...Object.fromEntries(['heartbeat', 'refreshPeers', 'controlListener', 'redisWatch', 'awaitRedis'].map((src) => [src, callbackVia(src, () => sut.fx)])),
    },
    actions: {
      // as src/worker.ts: the crashed task's local record is dropped and the crash logged
      reportTaskCrash: ({ event }) => sut.reports.push(event.type),
      reportError: ({ event }) => sut.reports.push(event.type),
      // as src/worker.ts: task machines as compiled records (the current replay's)
      startTasks: (a, p) => {
        sut.machines.actions.startTasks(a, p);
        // a new task child (ids come back from the pool): forget what its namesake was told
        for (const t of (p as { tasks: ClaimedTask[] }).tasks) {
          sut.told.delete(t.id);
          sut.ends.delete(t.id);
        }
      },
      tellTask: (a, p) => sut.machines.actions.tellTask(a, p),
      stopTasks: () => sut.machines.actions.stopTasks(),
    },
  });
const worker = workerWith();
/** the task logic of each variant, compiled as the runtime runs it */
const taskLogic: Record<Variant, ReturnType<typeof compileMachine>> = {
  'fake children': compileMachine(fakeTask),
  'real children': compileMachine(realTask),
};

/** Starts a worker on a fresh Sut. */
/** `interpreter`: the worker as xstate interprets its machine, or as the runtime runs it (compiled) */
type Interpreter = 'xstate' | 'compiled';

async function startWorker(variant: Variant, interpreter: Interpreter) {
  sut = new Sut();
  const { fx, told, clock } = sut;
  const transitionsOf = rootTransitions(() => sut.sink);
  const logic = interpreter === 'compiled' ? (compileMachine(worker) as unknown as typeof worker) : worker;
  const actor = createActor(logic, { input: inputs[variant], clock, inspect: (ev: InspectionEvent) => transitionsOf(ev) });
  sut.machines = new TaskMachines(taskLogic[variant], {
    send: (e) => actor.send(e),
    clock: { setTimeout: (f, ms) => clock.setTimeout(f, ms), clearTimeout: (h) => clock.clearTimeout(h as never) },
    // the worker tells its tasks these (tellTask); the task effects report the others
    received: (id, e) => {
      if (['STOP', 'RELOAD', 'EVENT', 'LEASE_LOST', 'HALT'].includes(e.type)) told.set(id, [...(told.get(id) ?? []), [fx.step, e.type]]);
    },
    ended: (id, output) => sut.ends.set(id, (output as TaskOutput).end),
  });
  const crashes: unknown[] = [];
  actor.subscribe({ error: (e) => crashes.push(e) });
  actor.start();
  await settle();
  return { actor, crashes, sut };
}

async function replay(variant: Variant, plan: Plan, interpreter: Interpreter) {
  const { actor, crashes, sut: current } = await startWorker(variant, interpreter);
  const { fx, tfx, clock, told, finishes, crashIds } = current;
  /** events the runtime could not have produced, found during this replay: "state EVENT" */
  const unproduced = new Set<string>();
  /** every task child ever seen, by id */
  const children = new Map<string, { getSnapshot(): { status: string } }>();
  /** live task machines, as ["task.<id>", record] */
  const taskChildren = () => current.machines.ids().map((id) => [`task.${id}`, current.machines.get(id)!] as const);

  const produce = (e: AnyEventObject, producer: string) => {
    const s = fx.live(producer);
    if (s.length) s[0]!.sendBack(e);
    else {
      unproduced.add(`${JSON.stringify(actor.getSnapshot().value)} ${e.type}`);
      actor.send(e as never);
    }
  };
  /**
   * ids of the task functions running. A crashed task actor's function is left out: it keeps
   * running, never aborted (a bug, reproduced on the real worker in task-crash.test.ts).
   */
  const functions = () => tfx.running().map((c) => String(c.input.id)).filter((id) => !crashIds.has(id));
  const childOf = (id: string) => current.machines.get(id);

  const drive = async (e: AnyEventObject, before: Snap) => {
    const t = e.type;
    const task = t === 'TASKS_ENDED' ? ['', 'done', String(e.ids[0])] : t === 'TASK_CRASHED' ? ['', 'error', String(e.id)] : null;
    const invoked = /^xstate\.(done|error)\.actor\.(.+)$/.exec(t);
    if (t.startsWith('xstate.after.')) {
      const delay = t.split('.')[2] as keyof WorkerInput;
      clock.increment(actor.getSnapshot().context[delay]);
    } else if (task) {
      const [, kind, id] = task as unknown as [string, string, string];
      const child = childOf(id);
      expect(child?.getSnapshot().status, `task child ${id} is alive`).toBe('active');
      if (variant === 'fake children') child!.send({ type: kind === 'done' ? '@test.finish' : '@test.crash' });
      else if (kind === 'error') {
        // a bug in the task actor: an action throws
        crashIds.add(id);
        child!.send({ type: 'HALT' });
      } else {
        // the current run's function returns (again, if it was reloading) until the task has ended
        for (let k = 0; k < 4 && childOf(id); k++) {
          const child = childOf(id)!;
          const current = (child.getSnapshot().context as { run: number }).run;
          const run = runsOf(child.sessionId).filter((c) => c.status === 'pending' && c.input.run === current);
          expect(run, `one function of the current run in flight for ${id}`).toHaveLength(1);
          run[0]!.resolve('ok');
          await settle(2);
        }
      }
    } else if (invoked) {
      const src = (before as any)._nodes.flatMap((n: any) => n.invoke).find((d: any) => d.id === invoked[2])?.src;
      const c = fx.pending(String(src));
      if (invoked[1] === 'done') c.resolve(e.output);
      else c.reject(e.error);
    } else if (t === 'STOP') actor.send({ type: 'STOP' });
    else if (t === 'REDIS_LOST') produce(e, 'redisWatch');
    else if (t === 'REDIS_BACK') produce(e, 'awaitRedis');
    else if (t === 'LEASES_LOST') produce(e, 'heartbeat');
    else if (t === 'CONTROL') produce(e, 'controlListener');
    else if (t === 'TASKS_SETTLED') actor.send(e as never);
    else throw new Error(`no driver for ${t}`);
  };

  const check = (i: number) => {
    const s = actor.getSnapshot();
    const m = plan.expected[i]!;
    const where = `step ${i} of ${plan.name}`;
    expect(crashes, where).toEqual([]);
    expect(s.value, where).toEqual(m.snapshot.value);
    expect(s.status, where).toBe(m.snapshot.status);
    expect([...s.context.running].sort(), `${where}: running`).toEqual([...running(m.snapshot)].sort());
    expect(current.sink, `${where}: transitions`).toEqual(m.transitions);
    for (const [k, ref] of taskChildren()) children.set(k.slice('task.'.length), ref);

    // the effects running are exactly those its active states invoke
    expect(fx.liveSrcs(), `${where}: running effects`).toEqual(invokedSrcs(s));
    // context.running is the set of live task children
    const live = taskChildren().filter(([, ref]) => ref.getSnapshot().status === 'active');
    if (s.status === 'active') {
      expect(live.map(([k]) => k.slice('task.'.length)).sort(), `${where}: live children`).toEqual([...s.context.running].sort());
      expect(taskChildren().length, `${where}: ended children are released`).toBe(live.length);
    }
    // fetching nothing: no claim, no queue wait, started or running
    const state = typeof s.value === 'string' ? s.value : Object.keys(s.value)[0]!;
    if (NO_FETCH.includes(state)) {
      const fetches = fx.calls.filter((c) => ['claimTasks', 'waitForTask'].includes(c.src) && (c.step === i || fx.running(c.src).includes(c)));
      expect(fetches.map((c) => c.src), `${where}: fetching in ${state}`).toEqual([]);
    }
    if (HALTED.includes(state)) {
      if (variant === 'fake children') {
        // every task it still holds has been told to halt
        for (const id of s.context.running) expect((told.get(id) ?? []).map(([, type]) => type), `${where}: ${id} told`).toContain('HALT');
      } else {
        // a halted worker runs no task: no child, no function
        expect(s.context.running, where).toEqual([]);
        expect([...children.values()].map((c) => c.getSnapshot().status).filter((x) => x === 'active'), where).toEqual([]);
        expect(functions(), `${where}: task functions running`).toEqual([]);
      }
    }
    // every function running belongs to a task the worker holds
    for (const id of functions()) expect(s.context.running, `${where}: function of ${id} running`).toContain(id);
    // a task told HALT or LEASE_LOST writes no END afterwards, and ends abandoned
    for (const [id, events] of told) {
      const since = events.find(([, type]) => type === 'HALT' || type === 'LEASE_LOST')?.[0];
      if (since === undefined) continue;
      expect(finishes.filter(([k, f]) => f === id && k >= since), `${where}: END written for abandoned ${id}`).toEqual([]);
      if (variant === 'real children' && !crashIds.has(id)) expect(current.ends.get(id), `${where}: how ${id} ended`).toBe('abandoned');
    }
    // stopped: no child, no effect, no function (the final snapshot still lists the children
    // it stopped: xstate drops the snapshot stopChildren returns on reaching a final state)
    if (s.status === 'done') {
      expect(taskChildren().filter(([, c]) => c.getSnapshot().status === 'active'), where).toEqual([]);
      expect([...children.values()].map((c) => c.getSnapshot().status).filter((x) => x === 'active'), where).toEqual([]);
      expect(fx.liveSrcs(), where).toEqual([]);
      expect(functions(), where).toEqual([]);
    }
  };

  check(0);
  for (const [k, e] of plan.events.entries()) {
    fx.step = k + 1;
    current.sink = [];
    await drive(e, plan.expected[k]!.snapshot);
    await settle(2);
    check(k + 1);
  }
  expect(actor.getSnapshot().status).toBe('done');
  // every event came from the effect that produces it at run time
  expect([...unproduced], `${plan.name}: events no live effect produced`).toEqual([]);
}

/**
 * Ids come back from the pool: a task halted with the worker, then claimed again under the same
 * id, runs and ends normally (the invariants follow each child, not each id).
 */
const reuse = planOf(steppers['real children'], inputs['real children'], [
  { type: 'xstate.done.actor.0.worker.starting' },
  { type: 'xstate.done.actor.0.worker.connected.fetching', output: claim(['a', 'b']) },
  { type: 'REDIS_LOST' },
  { type: 'xstate.done.actor.1.worker.probing', output: { reached: 1, total: 4 } },
  { type: 'REDIS_BACK' },
  { type: 'xstate.done.actor.0.worker.reconciling', output: { lost: [] } },
  { type: 'xstate.done.actor.0.worker.connected.fetching', output: claim(['a']) },
  { type: 'xstate.done.actor.0.worker.connected.fetching', output: claim([]) },
  { type: 'TASKS_ENDED', ids: ['a'] },
  { type: 'STOP' },
  { type: 'xstate.done.actor.0.worker.deregistering' },
], 'scenario: halted with a and b, reconnected, a claimed again and ended normally');

const plans: Record<Variant, Plan[]> = {
  'fake children': plansOf('fake children'),
  'real children': [...plansOf('real children'), reuse],
};

/** Transitions no replay with real children can take: partitioned is left within the step. */
const DEAD_WITH_REAL_CHILDREN = [
  'worker.partitioned STOP#0 -> worker.deregistering',
  'worker.partitioned xstate.after.abortTimeout.worker.partitioned#0 -> worker.halted',
  'worker.releasing xstate.after.abortTimeout.worker.releasing#0 -> worker.deregistering',
];

describe.each(['fake children', 'real children'] as const)('worker machine, model-based, %s', (variant) => {
  const list = plans[variant];
  const coverage = () =>
    coverageOf(
      list.map((p) => p.expected),
      (i) => list[i]!.events.length - list[i]!.extension + 1,
    );

  if (variant === 'fake children') {
    it('the paths cover every state and every transition of the machine', () => {
      const cov = coverage();
      expect(missing(definition.states, cov.states)).toEqual([]);
      expect(missing(definition.transitions, cov.transitions)).toEqual([]);
    });
  } else {
    // A real task here ends at once on HALT, so the worker leaves partitioned (and releasing) in
    // the step that entered it: their STOP and abortTimeout transitions (for a task
    // that ignores HALT) are unreachable. Everything else is covered.
    it('the paths cover every state, and every transition but partitioned’s two and releasing’s timeout', () => {
      const cov = coverage();
      expect(missing(definition.states, cov.states)).toEqual([]);
      expect(missing(definition.transitions, cov.transitions)).toEqual(DEAD_WITH_REAL_CHILDREN);
    });
  }

  it.each(list.map((p, i) => [i, p.name] as const))('path %i: %s', async (i) => {
    await replay(variant, list[i]!, 'xstate');
  });

  // the worker as the runtime runs it: the same machine, stepped by actors/compiled-machine.ts
  it.each(list.map((p, i) => [i, p.name] as const))('compiled, path %i: %s', async (i) => {
    await replay(variant, list[i]!, 'compiled');
  });
});
