/**
 * Model-based test of the worker machine (xstate/graph).
 *
 * The model's state is the worker's snapshot and the claims on their way, of every round (a claim
 * is asked by the action requestClaim and answered by CLAIMED or CLAIM_FAILED; the machine
 * forgets a round's claims when it connects again, the runtime still answers them). Its abstract
 * state: the state value, the running (and settled) task ids (from a pool of `concurrency` names,
 * so that events naming a task replay), `asking`, the claims on their way with
 * their sizes and rounds, and the round. Answers are generated only to a claim on its way: of this
 * round while connected (no task, one, as many as it asked for; or a failure), of an earlier
 * round (stale) or after the worker left connected (REDIS_LOST, STOP). The worker connects at
 * most twice (stale answers are those of round 1 in round 2), and while it is lost from Redis
 * with a claim on its way the tasks' events wait (an answer there is handled alike whatever the
 * tasks do), so the graph is bounded. Its control subscription is acknowledged (CONTROL_READY)
 * at start before or after it registered, and lost (CONTROL_LOST) while connected in the first
 * round; Redis is lost only while it listens (machines/worker.test.ts has the other case). It is covered by walks (harness.ts edgeCoveringWalks):
 * a path per edge would be thousands.
 *
 * It runs in two configurations: one claim at a time (lane = concurrency = 2) and two lanes
 * (concurrency 2, lane 1: two claims on their way, answering in either order, one failing or
 * empty while the other takes tasks). Walks covering every edge of the graph are replayed
 * against the worker provided with controllable effects on a SimulatedClock, in two ways:
 *
 * - "fake children": each task child is a fake that ignores HALT and ends only when the path
 *   says so. The model is the machine's own transitions (children do not react), and every
 *   state and transition of the machine is covered (but those of lanes with one claim at a
 *   time). Invariant: a halted or partitioned worker has told every
 *   task it still holds to HALT.
 * - "real children": each task child is the real task machine, its function (startRun) and
 *   END write (writeEnd) faked as the runtime's actions are: they report back by events (the
 *   function when the replay settles it, the END write at once, written), and abortRun fires
 *   the signal of the latest run. The model adds what a real task does when the worker sends
 *   it HALT or LEASE_LOST: it ends abandoned at once. Invariants: a halted worker runs no task (no child, no
 *   function); a task told HALT or LEASE_LOST ends abandoned and writes no END. Partitioned's
 *   own STOP and abortTimeout transitions are unreachable this way (asserted).
 *
 * At every step of both, with the worker interpreted by xstate and compiled
 * (actors/compiled-machine.ts, as the runtime runs it): the worker took the model's transitions
 * (compared microstep by microstep through the inspection API), its `running` is the set of its
 * live task children and every function running belongs to one, the effects running are
 * exactly those of its active states (so no queue wait while probing, redisDown, halted,
 * partitioned or draining, and nothing at all once stopped), events come from the effect that
 * sends them at run time (redisWatch, awaitRedis, heartbeat, controlListener) when one is
 * running. Claims: requestClaim is asked only by connected.fetching's eventless transition, for
 * this round and at least one slot; the claims of this round on their way are exactly `asking`
 * (in every state: a draining worker waits for them); none asked, and no queue wait, while the
 * control subscription is not acknowledged; while connected, no more than two (one
 * without lanes), asking no more slots than are free, and the worker rests in a claiming state
 * with none on its way only when no slot is free. Every task started comes from an answer of
 * this round's claim while connected or from a queue wait; an answer of an earlier round, or one
 * after the worker left connected, starts nothing and its tasks are handed back
 * (handBackClaimed), exactly those.
 *
 * Found: a crashed task actor's function is never aborted (see task-crash.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { createActor, setup, SimulatedClock, type AnyEventObject, type InspectionEvent } from 'xstate';
import { AWAITING_REDIS, freeSlots, laneNow, roomLeft, workerMachine, type ClaimedTask, type WorkerInput } from '../../machines/worker.js';
import { compileMachine } from '../../actors/compiled-machine.js';
import { TaskMachines } from '../../actors/task-machines.js';
import { taskMachine, type TaskInput, type TaskOutput } from '../../machines/task.js';
import {
  cached,
  coverageOf,
  definitionOf,
  edgeCoveringWalks,
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
/**
 * one claim at a time (lane = concurrency), two on their way at once (lane < concurrency), or
 * two only while the swarm has no other worker (loneLane < lane = concurrency, SWARM_SIZE)
 */
export type Lanes = 'one claim at a time' | 'two lanes' | 'lanes while alone';

const baseInput: WorkerInput = {
  concurrency: 2,
  lane: 2,
  fetchTaskInterval: 200,
  fetchWorkerInterval: 300,
  partitionPercentage: 60,
  stopGrace: 500,
  abortTimeout: 100,
  finishRetryDelay: 50,
};
const lanes: Record<Lanes, Pick<WorkerInput, 'concurrency' | 'lane' | 'loneLane'>> = {
  'one claim at a time': { concurrency: 2, lane: 2 },
  'two lanes': { concurrency: 2, lane: 1 },
  'lanes while alone': { concurrency: 2, lane: 2, loneLane: 1 },
};
/**
 * With real task children the worker's abortTimeout is also theirs: make it long, so that a
 * stopping or reloading child never ends on its own timer while the replay advances the clock
 * for the worker's timers. (The worker's own abortTimeout timer, in partitioned, is unreachable
 * with real children: see below.)
 */
const inputOf = (variant: Variant, l: Lanes): WorkerInput => ({
  ...baseInput,
  ...lanes[l],
  ...(variant === 'real children' ? { abortTimeout: 1_000_000_000 } : {}),
});

/** a claim requested (requestClaim) and not answered yet: the slots it asked for, and its round */
interface Claim {
  asked: number;
  round: number;
}
/**
 * The model's state: the worker's snapshot, and the claims on their way, of every round (the
 * machine forgets a round's claims when it reconnects, the runtime still answers them).
 */
type ModelSnap = Snap & { onTheWay: Claim[] };
const onTheWay = (s: Snap): Claim[] => (s as ModelSnap).onTheWay ?? [];
const byRoundAndSize = (a: Claim, b: Claim) => a.round - b.round || a.asked - b.asked;

/** the name of the state in the machine's root, and whether it is connected */
const topState = (s: Snap) => (typeof s.value === 'string' ? s.value : Object.keys(s.value)[0]!);
const inConnected = (s: Snap) => topState(s) === 'connected';

/** task ids are drawn from this pool, lowest free first (up to 2 x concurrency run: settled ones free their slots) */
const POOL = ['a', 'b'];
/** the most times the model connects: stale answers (round 1 in round 2) are covered, and the state space stays bounded */
const ROUNDS = 2;
const running = (s: Snap): string[] => s.context.running;
/** the tasks running, in the order events name them (the abstract state does not keep the claims' order) */
const held = (s: Snap): string[] => [...running(s)].sort();
const settledIds = (s: Snap): string[] => s.context.settled;
/**
 * The abstract state: the state value, the tasks running (and settled), the claims on their way
 * (`asking`, this round's; and the model's, of every round), the round. A final state is its
 * value alone (nothing happens there).
 */
const abstract = (s: Snap) =>
  s.status !== 'active'
    ? JSON.stringify([s.value])
    : JSON.stringify([
        s.value,
        [...running(s)].sort(),
        [...settledIds(s)].sort(),
        [...(s.context.asking as number[])].sort(),
        [...onTheWay(s)].sort(byRoundAndSize).map((c) => [c.asked, c.round]),
        s.context.round,
        // (without loneLane, being alone changes nothing: one state either way)
        s.context.loneLane === undefined ? null : s.context.alone,
        s.context.listening,
        // (a stop's: which tasks it halted still run, and whether its abortTimeout has passed;
        // whom it hands back once they have gone changes no step of the machine; which tasks
        // running were told to stop)
        [...(s.context.haltedForStop as string[])].filter((id) => running(s).includes(id)).sort(),
        [...(s.context.stopping as string[])].filter((id) => running(s).includes(id)).sort(),
        s.context.outOfTime,
      ]);
const claim = (ids: string[]): { tasks: ClaimedTask[] } => ({ tasks: ids.map((id) => ({ id, attempt: 1, lease: `lease-${id}` })) });
const fail = () => [{ message: 'fake failure' }];

/** what a claim of `slots` returns: no task, one, or enough to fill the slots (ids not running) */
const claimOutputs = (s: Snap, slots: number) => {
  const free = POOL.filter((id) => !running(s).includes(id)).slice(0, slots);
  const outs = [claim([])];
  if (free.length >= 1) outs.push(claim(free.slice(0, 1)));
  if (free.length >= 2) outs.push(claim(free));
  return outs;
};

/** each kind of claim on its way (by size and round), once */
const claimKinds = (s: Snap): Claim[] => {
  const seen = new Set<string>();
  return [...onTheWay(s)].sort(byRoundAndSize).filter((c) => {
    const k = `${c.asked}/${c.round}`;
    return !seen.has(k) && seen.add(k);
  });
};
/** whether an answer to this claim would be the worker's to run: of its round, while connected */
const current = (s: Snap, c: Claim) => inConnected(s) && c.round === s.context.round;
/**
 * The answers the runtime may send now, to each claim on its way: for one the worker runs, no
 * task, one, or as many as it asked for; for one it hands back (of an earlier round, or after
 * it left connected) what it took is all the same: as many as it asked for.
 */
const claimedEvents = (s: Snap): AnyEventObject[] =>
  claimKinds(s).flatMap((c) =>
    (current(s, c) ? claimOutputs(s, c.asked) : claimOutputs(s, c.asked).slice(-1)).map((o) => ({ type: 'CLAIMED', ...o, asked: c.asked, round: c.round })),
  );
const failedEvents = (s: Snap): AnyEventObject[] => claimKinds(s).map((c) => ({ type: 'CLAIM_FAILED', error: { message: 'claim failed' }, asked: c.asked, round: c.round }));

const payloads: Payloads = {
  done: {
    register: () => [undefined],
    // woken (or the poll came round), then claimed
    waitForTask: (s) => claimOutputs(s, roomLeft(s.context)),
    // below partitionPercentage (60), above it, and no peer known at all
    probePeers: () => [
      { reached: 1, total: 4 },
      { reached: 3, total: 4 },
      { reached: 0, total: 0 },
    ],
    // connected again, up to ROUNDS times in all
    reconcile: (s) => (s.context.round >= ROUNDS ? [] : [{ lost: [] }, ...(held(s).length ? [{ lost: [held(s)[0]] }] : [])]),
    recoverClaims: () => [undefined],
    handBack: () => [undefined],
    deregister: () => [undefined],
  },
  error: {
    register: fail,
    waitForTask: fail,
    probePeers: fail,
    reconcile: fail,
    recoverClaims: fail,
    handBack: fail,
    deregister: fail,
  },
  events: {
    STOP: () => [{ type: 'STOP' }],
    // (Redis is lost in the first round: the last one runs to its end, or stops; and with the
    // control subscription live: machines/worker.test.ts has Redis lost without it)
    REDIS_LOST: (s) => (s.context.round < ROUNDS && s.context.listening ? [{ type: 'REDIS_LOST' }] : []),
    // Redis acknowledged the control subscription: at start (before or after the worker
    // registered), and once made again after its connection closed
    CONTROL_READY: (s) => (s.context.listening ? [] : [{ type: 'CONTROL_READY' }]),
    // the subscriber connection closed: while connected, in the first round (the graph stays bounded)
    CONTROL_LOST: (s) => (s.context.listening && inConnected(s) && s.context.round < ROUNDS ? [{ type: 'CONTROL_LOST' }] : []),
    REDIS_BACK: () => [{ type: 'REDIS_BACK' }],
    LEASES_LOST: (s) => [{ type: 'LEASES_LOST', ids: [...held(s).slice(0, 1), 'ghost'] }],
    // the runtime's end batch: these tasks' functions settled, their ENDs are on their way
    // (one at a time, while connected: there a settled task's slot is claimed again)
    TASKS_SETTLED: (s) => (settledIds(s).length || !held(s).length || !inConnected(s) ? [] : [{ type: 'TASKS_SETTLED', ids: held(s).slice(0, 1) }]),
    CONTROL: (s) => {
      const id = held(s)[0];
      if (!id) return [{ type: 'CONTROL', id: 'ghost', command: 'stop' }];
      // (routed alike in every state: each command while connected, a stop elsewhere. A stop of a
      // task held is noted as told to stop, for the stop's leaving: with lanes, told only while
      // draining, else their graphs grew threefold; one claim at a time covers the rest)
      if ((s.context.lane < s.context.concurrency || s.context.loneLane !== undefined) && topState(s) !== 'draining') return [{ type: 'CONTROL', id: 'ghost', command: 'stop' }];
      if (!inConnected(s)) return [{ type: 'CONTROL', id, command: 'stop' }];
      return [
        { type: 'CONTROL', id, command: 'stop' },
        { type: 'CONTROL', id, command: 'reload' },
        { type: 'CONTROL', id, command: 'event', name: 'resize', payload: { to: 4 } },
      ];
    },
    // the runtime: these task machines ended (one at a time here), or one crashed
    TASKS_ENDED: (s) => held(s).map((id) => ({ type: 'TASKS_ENDED', ids: [id] })),
    TASK_CRASHED: (s) => held(s).map((id) => ({ type: 'TASK_CRASHED', id, error: { message: 'task machine crashed' } })),
    // a claim's answer: only to a claim on its way (of this round or an earlier one)
    CLAIMED: claimedEvents,
    CLAIM_FAILED: failedEvents,
    // a claim's answer counted the swarm's workers: this one alone, or not (only a change). A
    // worker without loneLane claims alike either way: it hears it only while starting (its
    // transition is covered, and the graph stays the size it was)
    SWARM_SIZE: (s) => (s.context.loneLane === undefined && topState(s) !== 'starting' ? [] : [{ type: 'SWARM_SIZE', workers: s.context.alone ? 3 : 1 }]),
  },
};
/**
 * The events offered: those of the machine's handlers, and a claim's failure wherever it is
 * (the runtime answers every claim, wherever the worker is).
 */
const STOPPING = ['draining', 'leaving'];
const TASK_EVENTS = ['TASKS_ENDED', 'TASK_CRASHED', 'TASKS_SETTLED', 'CONTROL', 'LEASES_LOST'];
const events = (s: Snap) => {
  let out = eventsFor(s, payloads);
  if (s.status === 'active' && !out.some((e) => e.type === 'CLAIM_FAILED')) out.push(...failedEvents(s));
  // Lost from Redis, an answer is handled alike whatever the tasks do (handed back, or
  // ignored): the tasks' events there are taken with no claim on its way (the state space stays
  // bounded). Stopping, the worker waits for both (draining, leaving): they interleave.
  if (!inConnected(s) && !STOPPING.includes(topState(s)) && onTheWay(s).length) out = out.filter((e) => !TASK_EVENTS.includes(e.type));
  // (leaving's abortTimeout has no target: it fires once, and outOfTime says it has)
  if (s.context.outOfTime) out = out.filter((e) => e.type !== 'xstate.after.abortTimeout.worker.leaving');
  return out;
};

/**
 * The model's steps: the machine's, with the claims on their way kept alongside (a step's
 * requestClaim adds one, an answer removes the one it answers).
 */
function tracked(base: Stepper): Stepper {
  const next = (before: Claim[], e: AnyEventObject | undefined, r: StepResult): StepResult => {
    let claims = before;
    if (e && (e.type === 'CLAIMED' || e.type === 'CLAIM_FAILED')) {
      const i = claims.findIndex((c) => c.asked === e.asked && c.round === e.round);
      if (i < 0) throw new Error(`model: ${e.type} answers no claim on its way (${JSON.stringify(e)})`);
      claims = [...claims.slice(0, i), ...claims.slice(i + 1)];
    }
    const asked = r.actions.filter((a) => a.type === 'requestClaim').map((a) => ({ asked: Number(a.params.free), round: Number(a.params.round) }));
    if (asked.length) claims = [...claims, ...asked];
    return { ...r, snapshot: Object.assign({ ...r.snapshot }, { onTheWay: claims }) as Snap };
  };
  return { init: (i) => next([], undefined, base.init(i)), step: (s, e) => next(onTheWay(s), e, base.step(s, e)) };
}

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
  const react = (first: StepResult, e?: AnyEventObject): StepResult => {
    let cur = first;
    const transitions = [...first.transitions];
    const nodes = new Set(first.nodes);
    const actions = [...first.actions];
    // A stop's abortTimeout advances the clock by the children's abortTimeout too: a child told
    // to stop (not halted by the stop, see `stopping`) ends stopped on its own timer, set before.
    let ending = e?.type === 'xstate.after.abortTimeout.worker.leaving' ? first.snapshot.context.stopping.filter((id: string) => running(first.snapshot).includes(id)) : [];
    for (;;) {
      const ids = [...new Set([...ending, ...abandoning(cur).map((child) => child.slice('task.'.length))])].filter((id) => running(cur.snapshot).includes(id));
      ending = [];
      if (cur.snapshot.status !== 'active' || ids.length === 0) break;
      cur = base.step(cur.snapshot, { type: 'TASKS_ENDED', ids });
      transitions.push(...cur.transitions);
      cur.nodes.forEach((n) => nodes.add(n));
      actions.push(...cur.actions);
    }
    return { snapshot: cur.snapshot, transitions, nodes: [...nodes], actions };
  };
  return { init: (i) => react(base.init(i)), step: (s, e) => react(base.step(s, e), e) };
}

const definition = definitionOf(workerMachine);
const plain = pureStepper(workerMachine);
/** the model's steps, cached per configuration (the abstract state leaves out the input) */
const steppers = new Map<string, Stepper>();
const stepperOf = (variant: Variant, l: Lanes): Stepper => {
  const key = `${variant}, ${l}`;
  let st = steppers.get(key);
  if (!st) steppers.set(key, (st = cached(tracked(variant === 'real children' ? withRealChildren(plain) : plain), abstract)));
  return st;
};

function plansOf(variant: Variant, l: Lanes) {
  const stepper = stepperOf(variant, l);
  // TestModel traverses the machine through the same (cached) pure steps that give the
  // replay its expectations; with real children, composed with the children's reactions
  const logic = logicOf(workerMachine, stepper);
  // (the bound: the lone lanes' graph, the largest, takes about 25,000 steps to explore)
  const paths = edgeCoveringWalks(logic, { input: inputOf(variant, l), abstract, events, limit: 30_000, maxLength: 80 });
  return plansFor(paths, stepper, inputOf(variant, l), events, abstract);
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


// (every state but starting and connected: the machine's AWAITING_REDIS and its stopping ones)
const NO_FETCH = [...AWAITING_REDIS, 'draining', 'leaving', 'deregistering', 'stopped', 'failed'] as string[];
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
  /** ids whose task actor the replay made crash (until a task of that id starts again) */
  readonly crashIds = new Set<string>();
  /** the task actors the replay made crash, by session */
  readonly crashed = new Set<string>();
  readonly reports: string[] = [];
  /** transitions the worker takes during the current step */
  sink: string[] | undefined = [];
  /** the worker's task machines */
  machines!: TaskMachines;
  /** every startTasks: the step, the event that asked for it, the worker's round then, the ids */
  readonly starts: Array<{ step: number; event: AnyEventObject; round: number; ids: string[] }> = [];
  /** claimed tasks handed straight back (handBackClaimed, or the runtime's, once the worker has stopped): [step, ids] */
  readonly handedBack: Array<[number, string[]]> = [];
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
      if (sut.crashed.has(self.sessionId)) throw new Error(`task actor ${context.id} crashed`);
      const last = runsOf(self.sessionId).at(-1);
      if (last?.status !== 'pending') return;
      last.abort(new Error(`task ${context.id} aborted`));
      if (event.type === 'HALT') last.reject(new Error(`task ${context.id} aborted: halted`));
    },
    deliverEvent: () => {},
    detachRun: () => {},
    reportFinishError: () => {},
    markToldStop: () => {},
    releaseTask: () => {},
  },
});
const ids = (tasks: ClaimedTask[]) => tasks.map((t) => t.id);
/**
 * As src/worker.ts answers a claim: to the worker while it runs, else its tasks go straight back.
 * (The call is the replay's to settle: with the tasks it claimed, or a failure.)
 */
function requestClaim({ self }: { self: { getSnapshot(): { status: string }; send(e: AnyEventObject): void } }, params: unknown): void {
  const { free, round } = params as { free: number; round: number };
  const current = sut;
  const answer = (e: AnyEventObject) => {
    if (self.getSnapshot().status === 'active') self.send(e);
    else if (e.type === 'CLAIMED') current.handedBack.push([current.fx.step, ids(e.tasks)]);
  };
  current.fx.start<ClaimedTask[], { free: number; round: number }>('requestClaim', { free, round }, new AbortController().signal).then(
    (tasks) => answer({ type: 'CLAIMED', tasks, asked: free, round }),
    (error: unknown) => answer({ type: 'CLAIM_FAILED', error, asked: free, round }),
  );
}

const workerWith = () =>
  workerMachine.provide({
    actors: {
      ...Object.fromEntries(
        ['register', 'waitForTask', 'probePeers', 'reconcile', 'recoverClaims', 'handBack', 'deregister'].map((src) => [src, promiseVia(src, () => sut.fx)]),
      ),
      ...Object.fromEntries(['heartbeat', 'refreshPeers', 'controlListener', 'redisWatch', 'awaitRedis'].map((src) => [src, callbackVia(src, () => sut.fx)])),
    },
    actions: {
      // as src/worker.ts: the crashed task's local record is dropped and the crash logged
      reportTaskCrash: ({ event }) => sut.reports.push(event.type),
      reportError: ({ event }) => sut.reports.push(event.type),
      // as src/worker.ts: task machines as compiled records (the current replay's)
      requestClaim,
      handBackClaimed: ({ event }) => sut.handedBack.push([sut.fx.step, ids((event as { tasks: ClaimedTask[] }).tasks)]),
      keepForHandBack: () => {},
      startTasks: (a, p) => {
        sut.starts.push({ step: sut.fx.step, event: a.event, round: a.context.round, ids: ids((p as { tasks: ClaimedTask[] }).tasks) });
        sut.machines.actions.startTasks(a, p);
        // a new task child (ids come back from the pool): forget what its namesake was told
        for (const t of (p as { tasks: ClaimedTask[] }).tasks) {
          sut.told.delete(t.id);
          sut.ends.delete(t.id);
          sut.crashIds.delete(t.id);
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

async function startWorker(input: WorkerInput, variant: Variant, interpreter: Interpreter) {
  sut = new Sut();
  const { fx, told, clock } = sut;
  const transitionsOf = rootTransitions(() => sut.sink);
  const logic = interpreter === 'compiled' ? (compileMachine(worker) as unknown as typeof worker) : worker;
  const actor = createActor(logic, { input, clock, inspect: (ev: InspectionEvent) => transitionsOf(ev) });
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

const CLAIM_ASKED = 'worker.connected.fetching (always)#0 -> (no target)';
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const sortedNumbers = (xs: number[]) => [...xs].sort((a, b) => a - b);

async function replay(variant: Variant, l: Lanes, plan: Plan, interpreter: Interpreter) {
  const input = inputOf(variant, l);
  const { actor, crashes, sut: current } = await startWorker(input, variant, interpreter);
  const { fx, tfx, clock, told, finishes, crashIds, starts, handedBack } = current;
  /** the claims' answers the replay sent: step -> the answer, and whether it answers a claim of the worker's current round while connected */
  const answers = new Map<number, { event: AnyEventObject; current: boolean }>();
  const claims = () => fx.calls.filter((c) => c.src === 'requestClaim');
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
  const functions = () =>
    tfx
      .running()
      .filter((c) => !current.crashed.has(String(c.input.session)))
      .map((c) => String(c.input.id));
  const childOf = (id: string) => current.machines.get(id);

  const drive = async (e: AnyEventObject, before: Snap) => {
    const t = e.type;
    const task = t === 'TASKS_ENDED' ? ['', 'done', String(e.ids[0])] : t === 'TASK_CRASHED' ? ['', 'error', String(e.id)] : null;
    const invoked = /^xstate\.(done|error)\.actor\.(.+)$/.exec(t);
    if (t.startsWith('xstate.after.')) {
      const delay = t.split('.')[2] as keyof WorkerInput;
      clock.increment(actor.getSnapshot().context[delay] as number);
    } else if (task) {
      const [, kind, id] = task as unknown as [string, string, string];
      const child = childOf(id);
      expect(child?.getSnapshot().status, `task child ${id} is alive`).toBe('active');
      if (variant === 'fake children') child!.send({ type: kind === 'done' ? '@test.finish' : '@test.crash' });
      else if (kind === 'error') {
        // a bug in the task actor: an action throws
        crashIds.add(id);
        current.crashed.add(child!.sessionId);
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
    } else if (t === 'CLAIMED' || t === 'CLAIM_FAILED') {
      // the runtime answers the claim that asked for these slots in that round
      const c = fx.unsettled('requestClaim').find((x) => x.input.free === e.asked && x.input.round === e.round);
      expect(c, `a claim of ${String(e.asked)} in round ${String(e.round)} on its way`).toBeDefined();
      const now = actor.getSnapshot();
      answers.set(fx.step, { event: e, current: inConnected(now) && now.context.round === e.round });
      if (t === 'CLAIMED') c!.resolve(e.tasks);
      else c!.reject(e.error);
    } else if (t === 'STOP') actor.send({ type: 'STOP' });
    else if (t === 'REDIS_LOST') produce(e, 'redisWatch');
    else if (t === 'REDIS_BACK') produce(e, 'awaitRedis');
    else if (t === 'LEASES_LOST') produce(e, 'heartbeat');
    else if (t === 'CONTROL' || t === 'CONTROL_READY' || t === 'CONTROL_LOST') produce(e, 'controlListener');
    else if (t === 'TASKS_SETTLED') actor.send(e as never);
    // (the runtime sends it as a claim's answer arrives, whatever the state)
    else if (t === 'SWARM_SIZE') actor.send(e as never);
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
    expect(sortedNumbers(s.context.asking), `${where}: asking`).toEqual(sortedNumbers(m.snapshot.context.asking));
    expect(s.context.round, `${where}: round`).toBe(m.snapshot.context.round);
    // the claims on their way are the model's (of every round)
    const pending = fx.unsettled('requestClaim').map((c) => ({ asked: c.input.free as number, round: c.input.round as number }));
    expect(pending.sort(byRoundAndSize), `${where}: claims on their way`).toEqual([...onTheWay(m.snapshot)].sort(byRoundAndSize));
    for (const [k, ref] of taskChildren()) children.set(k.slice('task.'.length), ref);

    // the effects running are exactly those its active states invoke
    // (a claim is not one: it is asked by an action and answered by an event, see below)
    const effects = () => fx.liveSrcs().filter((src) => src !== 'requestClaim');
    expect(effects(), `${where}: running effects`).toEqual(invokedSrcs(s));
    // context.running is the set of live task children
    const live = taskChildren().filter(([, ref]) => ref.getSnapshot().status === 'active');
    if (s.status === 'active') {
      expect(live.map(([k]) => k.slice('task.'.length)).sort(), `${where}: live children`).toEqual([...s.context.running].sort());
      expect(taskChildren().length, `${where}: ended children are released`).toBe(live.length);
    }
    // fetching nothing: no claim asked, no queue wait started or running
    const state = topState(s);
    if (NO_FETCH.includes(state)) {
      const fetches = fx.calls.filter((c) => (c.src === 'requestClaim' && c.step === i) || (c.src === 'waitForTask' && (c.step === i || fx.running(c.src).includes(c))));
      expect(fetches.map((c) => c.src), `${where}: fetching in ${state}`).toEqual([]);
    }

    // Claims: asked only by connected.fetching's eventless transition, one per time it is taken,
    // for this round, for at least one slot
    const asked = claims().filter((c) => c.step === i);
    expect(asked.length, `${where}: claims asked (as many as ${CLAIM_ASKED} taken)`).toBe(current.sink!.filter((k) => k === CLAIM_ASKED).length);
    for (const c of asked) {
      expect(c.input.round, `${where}: round of a claim asked`).toBe(s.context.round);
      expect(c.input.free, `${where}: slots a claim asks for`).toBeGreaterThanOrEqual(1);
      expect(c.input.free, `${where}: slots a claim asks for`).toBeLessThanOrEqual(laneNow(s.context));
    }
    if (s.status === 'active') {
      // the claims of this round on their way are `asking` (connected or not: a draining worker
      // waits for them): none is forgotten, none is counted that is not on its way
      const mine = fx.unsettled('requestClaim').filter((c) => c.input.round === s.context.round);
      expect(sortedNumbers(mine.map((c) => c.input.free)), `${where}: asking is the claims on their way`).toEqual(sortedNumbers(s.context.asking));
    }
    if (inConnected(s)) {
      // while connected: no more than two on their way (one without lanes: a worker whose lanes
      // come and go with the swarm's size may still await the second of its lanes' claims after
      // they went), no more slots than are free
      const mine = fx.unsettled('requestClaim').filter((c) => c.input.round === s.context.round);
      expect(mine.length, `${where}: claims on their way`).toBeLessThanOrEqual(s.context.lane < s.context.concurrency || s.context.loneLane !== undefined ? 2 : 1);
      expect(sum(mine.map((c) => c.input.free)), `${where}: slots asked for (free: ${freeSlots(s.context)})`).toBeLessThanOrEqual(freeSlots(s.context));
      // at rest in a claiming state with no claim on its way: only when no slot is free (a
      // task that settles or ends re-evaluates mayClaim); anything else would never claim again
      const sub = (s.value as Record<string, string>).connected!;
      // the control subscription not acknowledged: no claim asked, no queue wait (a wait claims)
      if (!s.context.listening) {
        expect(asked.length, `${where}: claims asked while not listening`).toBe(0);
        expect(sub, `${where}: waiting on the queue while not listening`).not.toBe('waiting');
        expect(fx.running('waitForTask'), `${where}: a queue wait while not listening`).toEqual([]);
      }
      if (['fetching', 'queueEmpty', 'claimFailed'].includes(sub) && mine.length === 0 && s.context.listening) {
        expect(sub, `${where}: resting with no claim on its way`).toBe('fetching');
        expect(freeSlots(s.context), `${where}: fetching with no claim on its way, slots free`).toBe(0);
      }
    }
    // Tasks start only from an answer of this round's claim while connected, or from a queue
    // wait; an answer of an earlier round, or one after the worker left connected, is handed
    // back (handBackClaimed) and starts nothing
    const startedNow = starts.filter((x) => x.step === i);
    for (const x of starts.filter((y) => y.step === i)) {
      if (x.event.type === 'CLAIMED') expect(x.event.round, `${where}: round of a claim whose tasks start`).toBe(x.round);
      else expect(x.event.type, `${where}: tasks started by`).toMatch(/^xstate\.done\.actor\.\d+\.worker\.connected\.waiting$/);
    }
    const back = handedBack.filter(([k]) => k === i).map(([, t]) => t);
    const answer = answers.get(i);
    if (answer?.event.type === 'CLAIMED' && answer.current) {
      // (an empty answer may start nothing, or an empty batch)
      expect(startedNow.length, `${where}: startTasks calls`).toBeLessThanOrEqual(1);
      expect(startedNow.flatMap((x) => x.ids), `${where}: tasks of this round's claim started`).toEqual(ids(answer.event.tasks));
      expect(back, `${where}: handed back`).toEqual([]);
    } else if (answer?.event.type === 'CLAIMED') {
      expect(startedNow, `${where}: tasks of a stale claim started`).toEqual([]);
      expect(back, `${where}: stale claim's tasks handed back`).toEqual([ids(answer.event.tasks)]);
    } else {
      expect(back, `${where}: handed back with no claim's answer`).toEqual([]);
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
    // A task a stop hands back runs nowhere here: claimed elsewhere at once, it would run twice
    // at the same time. Only once abortTimeout has passed since the halt does a function still
    // running (one ignoring its abort) go back.
    for (const c of fx.calls.filter((x) => x.src === 'handBack' && x.step === i)) {
      const ids = (c.input as { ids: string[] }).ids;
      if (!s.context.outOfTime) expect(functions().filter((id) => ids.includes(id)), `${where}: handed back while its function runs`).toEqual([]);
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
      expect(effects(), where).toEqual([]);
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

const claimed = (tasks: string[], asked: number, round: number): AnyEventObject => ({ type: 'CLAIMED', ...claim(tasks), asked, round });

/** Hand-written scenarios, by configuration, replayed with both kinds of children. */
const scenarios = (variant: Variant): Record<Lanes, Plan[]> => ({
  'one claim at a time': [
    /**
     * Ids come back from the pool: a task halted with the worker, then claimed again under the
     * same id, runs and ends normally (the invariants follow each child, not each id).
     */
    ...(variant === 'real children'
      ? [
          planOf(stepperOf(variant, 'one claim at a time'), inputOf(variant, 'one claim at a time'), [
            { type: 'CONTROL_READY' },
            { type: 'xstate.done.actor.0.worker.starting' },
            claimed(['a', 'b'], 2, 1),
            { type: 'REDIS_LOST' },
            { type: 'xstate.done.actor.1.worker.probing', output: { reached: 1, total: 4 } },
            { type: 'REDIS_BACK' },
            { type: 'xstate.done.actor.0.worker.reconciling', output: { lost: [] } },
            claimed(['a'], 2, 2),
            claimed([], 1, 2),
            { type: 'TASKS_ENDED', ids: ['a'] },
            { type: 'STOP' },
            { type: 'xstate.done.actor.0.worker.deregistering' },
          ], 'scenario: halted with a and b, reconnected, a claimed again and ended normally'),
        ]
      : []),
  ],
  'lanes while alone': [
    /**
     * Alone, two claims of a lane each go out; another worker is counted while both are on their
     * way: both answer and run, and the slots freed after go out one claim at a time.
     */
    planOf(stepperOf(variant, 'lanes while alone'), inputOf(variant, 'lanes while alone'), [
      { type: 'CONTROL_READY' },
      { type: 'SWARM_SIZE', workers: 1 },
      { type: 'xstate.done.actor.0.worker.starting' },
      { type: 'SWARM_SIZE', workers: 3 },
      claimed(['a'], 1, 1),
      claimed(['b'], 1, 1),
      { type: 'TASKS_ENDED', ids: ['a'] },
      { type: 'TASKS_ENDED', ids: ['b'] },
      claimed([], 1, 1),
      { type: 'STOP' },
      { type: 'xstate.done.actor.0.worker.deregistering' },
    ], 'scenario: alone, two lanes; another worker counted: both answer, then one claim at a time'),
  ],
  'two lanes': [
    /**
     * A claim of the first round answers after the worker reconnected (Redis was down for all,
     * its tasks kept running): its task goes back to the queue, and the same task claimed in the
     * new round runs.
     */
    planOf(stepperOf(variant, 'two lanes'), inputOf(variant, 'two lanes'), [
      { type: 'CONTROL_READY' },
      { type: 'xstate.done.actor.0.worker.starting' },
      claimed(['a'], 1, 1),
      { type: 'REDIS_LOST' },
      { type: 'xstate.done.actor.1.worker.probing', output: { reached: 3, total: 4 } },
      { type: 'REDIS_BACK' },
      { type: 'xstate.done.actor.0.worker.reconciling', output: { lost: [] } },
      claimed(['b'], 1, 1),
      claimed(['b'], 1, 2),
      { type: 'STOP' },
      { type: 'TASKS_ENDED', ids: ['a'] },
      { type: 'TASKS_ENDED', ids: ['b'] },
      { type: 'xstate.done.actor.0.worker.deregistering' },
    ], 'scenario: a claim of round 1 answers in round 2: handed back; the same task claimed in round 2 runs'),
  ],
});

/**
 * Transitions no replay with real children can take: partitioned is left within the step, and a
 * stop's aborting too (a real task ends at once on HALT, its function heeding the abort: the
 * halted are gone before abortTimeout). (Finishing is not: its abortTimeout is taken while a
 * claim's answer is awaited.)
 */
const DEAD_WITH_REAL_CHILDREN = [
  'worker.partitioned STOP#0 -> worker.deregistering',
  'worker.partitioned xstate.after.abortTimeout.worker.partitioned#0 -> worker.halted',
  'worker.leaving.aborting (always)#1 -> worker.leaving.handingBack',
];
/**
 * With one claim at a time, no answer finds another claim on its way: queueEmpty and claimFailed
 * (and the transitions into them) are for lanes.
 */
const LANES_ONLY = (k: string) =>
  k.startsWith('worker.connected.queueEmpty') ||
  k.startsWith('worker.connected.claimFailed') ||
  k.endsWith('-> worker.connected.queueEmpty') ||
  k.endsWith('-> worker.connected.claimFailed');

/** transitions never taken, whatever the configuration: none */
const DEAD: string[] = [];

/** The model's tests in one configuration (a test file each, so that they run side by side). */
export function workerModelTests(l: Lanes): void {
  describe.each(['fake children', 'real children'] as const)(`worker machine, model-based, ${l}, %s`, (variant) => {
    const list = [...plansOf(variant, l), ...scenarios(variant)[l]];
    const generated = list.filter((p) => !p.name.startsWith('scenario: '));
    const coverage = () =>
      coverageOf(
        generated.map((p) => p.expected),
        (i) => generated[i]!.events.length - generated[i]!.extension + 1,
      );
    const unreachable = (all: string[], dead: string[]) => all.filter((k) => (l === 'one claim at a time' && LANES_ONLY(k)) || dead.includes(k));

    it(`the paths cover every state and every transition of the machine${l === 'one claim at a time' ? ' but those of lanes' : ''}${variant === 'real children' ? ', and but partitioned’s two and aborting’s out of time (a real task ends at once on HALT: the worker leaves partitioned, and aborting, in the step that entered it)' : ''}`, () => {
      const cov = coverage();
      expect(missing(definition.states, cov.states), 'states').toStrictEqual(unreachable(definition.states, []));
      expect(missing(definition.transitions, cov.transitions), 'transitions').toStrictEqual(
        unreachable(definition.transitions, [...DEAD, ...(variant === 'real children' ? DEAD_WITH_REAL_CHILDREN : [])]),
      );
    });

    // Every assign copies the context (actors/compiled-machine.ts); one that gained a field on
    // the way would be one more shape for that copy, and past four its site copies every context
    // of every machine by V8's slow path, about ten times the cost (bench/analysis.md).
    it('keeps the context\'s fields as they were made, on every path', () => {
      const fields = (s: Snap) => Object.keys(s.context).sort();
      // (as the context function makes them, before any entry action could add one)
      const made = Object.keys((workerMachine.config.context as (a: { input: unknown }) => object)({ input: inputOf(variant, l) })).sort();
      for (const p of list) for (const step of p.expected) expect(fields(step.snapshot), p.name).toEqual(made);
    });

    /** a test's name: the path's first events (the whole path is in each failure's message) */
    const title = (p: Plan) => (p.name.length > 160 ? `${p.name.slice(0, 159)}… (${p.events.length} events)` : p.name);
    it.each(list.map((p, i) => [i, title(p)] as const))('path %i: %s', async (i) => {
      await replay(variant, l, list[i]!, 'xstate');
    });

    // the worker as the runtime runs it: the same machine, stepped by actors/compiled-machine.ts
    it.each(list.map((p, i) => [i, title(p)] as const))('compiled, path %i: %s', async (i) => {
      await replay(variant, l, list[i]!, 'compiled');
    });
  });

  /**
   * The queue has nothing for the worker: every claim answers with no task. Steps the model from
   * connecting: the claims answered (the first on its way each time) before the worker waits on the
   * queue (connected.waiting: one blocking wait until an entry arrives, no claim), or Infinity when
   * it comes back to a state it was in without ever waiting: it claims again and again, for ever.
   */
  function claimsBeforeWaiting(l: Lanes): number {
    const st = stepperOf('fake children', l);
    const init = st.init(inputOf('fake children', l)).snapshot;
    let s = st.step(st.step(init, { type: 'CONTROL_READY' }).snapshot, { type: 'xstate.done.actor.0.worker.starting' }).snapshot;
    const seen = new Set<string>();
    for (let answered = 0; ; answered++) {
      if (s.matches({ connected: 'waiting' })) return answered;
      if (seen.has(abstract(s))) return Infinity;
      seen.add(abstract(s));
      const c = onTheWay(s)[0];
      if (!c) throw new Error(`no claim on its way in ${JSON.stringify(s.value)}`);
      s = st.step(s, claimed([], c.asked, c.round)).snapshot;
    }
  }

  describe('an idle worker waits on the queue', () => {
    if (l !== 'two lanes') {
      // (lanes while alone: not alone until a claim's answer has counted the workers)
      it(`${l}: after one empty answer`, () => {
        expect(claimsBeforeWaiting(l)).toBe(1);
      });
    } else {
      // (with b00f01c's machine it never did: both empty answers took it back to fetching,
      // which sent two claims again, in a loop, for as long as the queue was empty)
      it('two lanes: after the empty answers of the two claims on their way', () => {
        expect(claimsBeforeWaiting(l)).toBe(2);
      });
    }
  });
}
