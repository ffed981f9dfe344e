/**
 * A worker: registers, then while connected to Redis claims tasks up to its concurrency (one
 * task machine each), heartbeats them in one batch, routes control messages to them, and when
 * Redis is lost decides by pinging its peers whether to keep running (redisDown) or to halt
 * (partitioned -> halted). No I/O here: every effect is a named actor or action provided by
 * src/worker.ts, the task machines it runs included (startTasks, tellTask, stopTasks): the
 * worker holds their ids, the runtime steps them, and tells it when they end, a batch at a time.
 */
import { assign, enqueueActions, setup, type AnyEventObject } from 'xstate';
import { promiseNotProvided, callbackNotProvided, actionNotProvided } from './not-provided.js';
import type { TaskMachineEvent } from './task.js';
import { effect, named } from './invoke.js';
import type { EveryField } from './every-field.js';
import { hasQuorum, probingState, waitingForRedis, type PeerProbe } from './quorum.js';

export interface ClaimedTask {
  id: string;
  attempt: number;
  /** the task's tries in all (its `attempts`; absent: 1) */
  attempts?: number;
  lease: string;
}

export interface WorkerInput {
  concurrency: number;
  /**
   * the most slots one claim asks for: `concurrency`, or less, and then a second claim goes out
   * while the first is on its way once that many slots are free (see `mayClaim`)
   */
  lane: number;
  /**
   * the lane while this worker is the swarm's only one (SWARM_SIZE), when that differs from
   * `lane`: a lone worker and its Redis take turns (lock-step), and two claims on their way
   * overlap them; where other workers share Redis, their claims fill its turns already, and
   * the smaller claims of lanes only add to its work (bench/analysis.md)
   */
  loneLane?: number;
  fetchTaskInterval: number;
  fetchWorkerInterval: number;
  partitionPercentage: number;
  stopGrace: number;
  abortTimeout: number;
  finishRetryDelay: number;
}

export type { PeerProbe };

export interface WorkerContext extends WorkerInput {
  /** ids of the tasks this worker holds (each runs its own task machine, see startTasks) */
  running: string[];
  /** of those, the ones whose function has settled and whose END is being written */
  settled: string[];
  /** the claims on their way (requested, not answered): how many slots each asked for */
  asking: number[];
  /**
   * counts the times the worker was connected: a claim's answer carries the round it was asked
   * in, and one asked before Redis was lost (or the worker stopped) is handed back, not run
   */
  round: number;
  /**
   * claims asked in earlier rounds that have not answered yet: a stopping worker waits for them
   * too, so that their tasks are handed back before it closes its connections
   */
  behind: number;
  /** the swarm has no other worker (the last SWARM_SIZE said so): claims ask for `loneLane` */
  alone: boolean;
  /**
   * Redis has acknowledged the control subscription on the subscriber connection as it is now
   * (CONTROL_READY; CONTROL_LOST when that connection closes): a control message published from
   * then on is heard. Pub/sub keeps nothing for a later subscriber, so no claim goes out without
   * it: a task started before would miss a `stop` sent as soon as it ran.
   */
  listening: boolean;
  lastProbe?: PeerProbe;
  /**
   * the tasks a stop halted as stopGrace ended (running, their function not settled): handed
   * back once their functions have returned, or abortTimeout has passed
   */
  haltedForStop: string[];
  /**
   * of the tasks running, those told to stop (a control `stop`, a cancel): they end `stopped`,
   * and a stop past its grace does not halt them (halted, they were handed back and ran again)
   */
  stopping: string[];
  /** the stop's abortTimeout has passed: leaving waits for nothing more */
  outOfTime: boolean;
}

export type ControlCommand = { command: 'stop' } | { command: 'reload' } | { command: 'event'; name: string; payload: unknown };

/** a claim's answer (requestClaim): `asked` and `round` are the request's */
export interface ClaimAnswer {
  asked: number;
  round: number;
}

export type WorkerEvent =
  | ({ type: 'CONTROL'; id: string } & ControlCommand)
  | ({ type: 'CLAIMED'; tasks: ClaimedTask[] } & ClaimAnswer)
  | ({ type: 'CLAIM_FAILED'; error: unknown } & ClaimAnswer)
  | { type: 'LEASES_LOST'; ids: string[] }
  | { type: 'TASKS_SETTLED'; ids: string[] }
  /** these tasks' machines reached their final state (END or abandoned): the runtime batches them */
  | { type: 'TASKS_ENDED'; ids: string[] }
  /** this task's machine threw (a bug, not a task failure) and was stopped */
  | { type: 'TASK_CRASHED'; id: string; error: unknown }
  | { type: 'REDIS_LOST' }
  | { type: 'REDIS_BACK' }
  /** how many workers the swarm lists, this one included (a claim's answer counted them) */
  | { type: 'SWARM_SIZE'; workers: number }
  /** Redis acknowledged the control subscription (controlListener) */
  | { type: 'CONTROL_READY' }
  /** the subscriber connection closed: messages published until it is subscribed again are lost */
  | { type: 'CONTROL_LOST' }
  | { type: 'STOP' };


/** params of startTasks: the tasks a claim returned, and what each task machine takes from the worker */
export interface StartTasks {
  tasks: ClaimedTask[];
  abortTimeout: number;
  finishRetryDelay: number;
}
/** the tasks an answer holds: a claim's (CLAIMED) or a queue wait's (its done event's output) */
const tasksOf = (event: AnyEventObject): ClaimedTask[] =>
  event.type === 'CLAIMED' ? (event as unknown as { tasks: ClaimedTask[] }).tasks : (event as unknown as { output: { tasks: ClaimedTask[] } }).output.tasks;
const claimedTasks = ({ context, event }: { context: WorkerContext; event: AnyEventObject }): StartTasks => ({
  tasks: tasksOf(event),
  abortTimeout: context.abortTimeout,
  finishRetryDelay: context.finishRetryDelay,
});
const startClaimed = ['addRunning', { type: 'startTasks', params: claimedTasks }] as const;

/**
 * Slots for new tasks: `concurrency` functions may run at once. A task whose function has
 * settled (TASKS_SETTLED, sent by the runtime as it writes the ENDs) frees its slot while its END
 * is written, so the next claim goes out with that END; but no more than `concurrency` such
 * ends may be pending (a worker whose END writes fail cannot claim without bound).
 */
export function freeSlots(c: Pick<WorkerContext, 'concurrency' | 'running' | 'settled'>): number {
  const active = c.running.length - c.settled.length;
  return Math.max(0, Math.min(c.concurrency - active, 2 * c.concurrency - c.running.length));
}

/** free slots no claim on its way has asked for */
export function roomLeft(c: Pick<WorkerContext, 'concurrency' | 'running' | 'settled' | 'asking'>): number {
  let asked = 0;
  for (const a of c.asking) asked += a;
  return freeSlots(c) - asked;
}

/** the most slots a claim asks for now: `loneLane` while the worker is the swarm's only one, else `lane` */
export function laneNow(c: Pick<WorkerContext, 'lane' | 'loneLane' | 'alone'>): number {
  return c.alone && c.loneLane !== undefined ? c.loneLane : c.lane;
}

/**
 * A claim may go out: with none on its way, when a slot is free; with one on its way, when the
 * worker has lanes (laneNow < concurrency) and the other lane's slots (concurrency - laneNow)
 * are free. Two claims then take turns with the worker: Redis runs one while the worker runs the
 * other's tasks (at concurrency 100, about 1 / max(worker, Redis) per task rather than
 * 1 / (worker + Redis): bench/analysis.md).
 */
export function mayClaim(c: Pick<WorkerContext, 'concurrency' | 'running' | 'settled' | 'asking' | 'lane' | 'loneLane' | 'alone'>): boolean {
  const room = roomLeft(c);
  if (room <= 0) return false;
  if (c.asking.length === 0) return true;
  const lane = laneNow(c);
  return c.asking.length === 1 && lane < c.concurrency && room >= c.concurrency - lane;
}

/** an answer to a claim asked before the worker last (re)connected: its tasks go back */
const staleClaim = { guard: 'staleClaim', actions: ['staleAnswered', 'handBackClaimed'] } as const;
/** a claim failed: recovered once no other claim is on its way (its answer is awaited first) */
const failedClaim = [
  { guard: 'staleClaim', actions: 'staleAnswered' },
  { guard: 'lastClaim', target: 'recovering', actions: ['claimAnswered', 'reportError'] },
  { target: 'claimFailed', actions: ['claimAnswered', 'reportError'] },
] as const;

/**
 * The top-level states in which Redis is lost, or back and not reconciled yet: the machine
 * reconciles every local task against its lease once Redis answers, so an END refused there
 * is tried again after that, never taken for a lease lost (src/worker.ts). Kept beside the
 * states: a state added without its place here was an END given up, a task's result lost
 * (test/machines/worker.test.ts checks that every state is placed).
 */
export const AWAITING_REDIS = ['probing', 'redisDown', 'partitioned', 'halted', 'reconciling'] as const;

/**
 * The top-level states in which the worker talks to Redis about its tasks: an END refused there
 * asks a renew, which re-asserts what Redis lost, before it is given up. A stop's last steps are
 * among them: an END refused while the stop waited for it, Redis back empty, was given up, a
 * finished task lost.
 */
export const TALKING_TO_REDIS = ['connected', 'draining', 'leaving'] as const;

export const workerMachine = setup({
  types: {
    context: {} as WorkerContext,
    events: {} as WorkerEvent,
    input: {} as WorkerInput,
  },
  actors: {
    /** listen for peer pings and list this worker in `workers` */
    register: promiseNotProvided<void>('worker', 'register'),
    /**
     * block on the queue until an entry arrives or fetchTaskInterval passes, then claim up to
     * `free` tasks: the wake-up and the claim are one effect, so that an idle worker's pickup is
     * the wake-up plus one round trip, with no machine step between them
     */
    waitForTask: promiseNotProvided<{ tasks: ClaimedTask[] }, { free: number }>('worker', 'waitForTask'),
    /** renew all leases in one call every heartbeatInterval; sends LEASES_LOST */
    heartbeat: callbackNotProvided('worker', 'heartbeat'),
    /** keep the in-memory list of peers fresh, every fetchWorkerInterval */
    refreshPeers: callbackNotProvided('worker', 'refreshPeers'),
    /**
     * deliver control messages of every task as CONTROL events; CONTROL_READY once Redis has
     * acknowledged the subscription (at start, and again after each reconnect of its
     * connection), CONTROL_LOST when that connection closes
     */
    controlListener: callbackNotProvided('worker', 'controlListener'),
    /** watch the Redis connection; sends REDIS_LOST when it closes */
    redisWatch: callbackNotProvided('worker', 'redisWatch'),
    /** ping Redis until it answers, then send REDIS_BACK (level-triggered: works for a closed
     * connection and for a silent one, as in a real partition) */
    awaitRedis: callbackNotProvided('worker', 'awaitRedis'),
    /** ping every known peer at once, with a short timeout */
    probePeers: promiseNotProvided<PeerProbe>('worker', 'probePeers'),
    /**
     * after a claim failed: give up on the claims whose replies never came; what they took in
     * Redis is handed back to the queue, and a claim that has not run never will (claim-recover.lua)
     */
    recoverClaims: promiseNotProvided<void>('worker', 'recoverClaims'),
    /** after Redis returns: check every local task against its lease, re-assert vanished ones */
    reconcile: promiseNotProvided<{ lost: string[] }>('worker', 'reconcile'),
    /**
     * give the tasks a stop halted back to the queue (hand-back.lua), from the records
     * keepForHandBack kept (their task machines have ended), each re-asserted first if Redis lost
     * it; those Redis did not answer for are handed back once it does, until the halt's
     * abortTimeout has passed; `deregister` waits for that
     */
    handBack: promiseNotProvided<void, { ids: string[] }>('worker', 'handBack'),
    /**
     * hand back what the stop could not (the tasks of claims whose replies were lost; it waits for
     * the hand-back from memory of tasks Redis did not answer for), leave `workers`, close the
     * ping server and connections
     */
    deregister: promiseNotProvided<void>('worker', 'deregister'),
  },
  actions: {
    /**
     * atomically claim up to `params.free` queued tasks (claim.lua, or finish-claim.lua with the
     * ENDs going out now); the answer comes back as CLAIMED or CLAIM_FAILED, with `asked` and
     * `round` as given here
     */
    requestClaim: actionNotProvided('worker', 'requestClaim'),
    /** a claim is on its way: its slots are asked for */
    claimAsked: assign({ asking: ({ context }) => [...context.asking, Math.min(roomLeft(context), laneNow(context))] }),
    controlHeard: assign({ listening: () => true }),
    controlLost: assign({ listening: () => false }),
    /** a claim's answer counted the swarm's workers: alone (this one only, or none listed) or not */
    countWorkers: assign({ alone: ({ event }) => (event as { workers: number }).workers <= 1 }),
    /** a claim answered (CLAIMED or CLAIM_FAILED): its slots are no longer asked for */
    claimAnswered: assign({
      asking: ({ context, event }) => {
        const i = context.asking.indexOf((event as unknown as ClaimAnswer).asked);
        return i < 0 ? context.asking : [...context.asking.slice(0, i), ...context.asking.slice(i + 1)];
      },
    }),
    /** connected (again): no claim is on its way in this round */
    newRound: assign({ asking: () => [], round: ({ context }) => context.round + 1, behind: ({ context }) => context.behind + context.asking.length }),
    /** a claim of an earlier round answered */
    staleAnswered: assign({ behind: ({ context }) => Math.max(0, context.behind - 1) }),
    /**
     * the tasks a claim took while the worker was not connected, or in an earlier round, go
     * straight back to the queue (hand-back.lua), without running
     */
    handBackClaimed: actionNotProvided('worker', 'handBackClaimed'),
    /**
     * start one task machine per claimed task (params: StartTasks), stepped by the runtime; a live
     * one of the same id is an old claim that has not heard it lost its lease: it is told
     * LEASE_LOST first, and leaves at once (its end is not reported: the id runs on)
     */
    startTasks: actionNotProvided('worker', 'startTasks'),
    /** record the claimed tasks as running (a task claimed again is no longer settled) */
    addRunning: assign(({ context, event }) => {
      const ids = tasksOf(event).map((t) => t.id);
      return {
        running: [...context.running, ...ids.filter((id) => !context.running.includes(id))],
        settled: context.settled.some((id) => ids.includes(id)) ? context.settled.filter((id) => !ids.includes(id)) : context.settled,
        // (a new claim of an id is an attempt nobody told to stop)
        stopping: context.stopping.some((id) => ids.includes(id)) ? context.stopping.filter((id) => !ids.includes(id)) : context.stopping,
      };
    }),
    /** task machines ended (TASKS_ENDED) or crashed (TASK_CRASHED): forget their ids */
    forgetTasks: assign(({ context, event }) => {
      const gone = new Set(event.type === 'TASKS_ENDED' ? event.ids : event.type === 'TASK_CRASHED' ? [event.id] : []);
      return {
        running: context.running.filter((r) => !gone.has(r)),
        settled: context.settled.filter((r) => !gone.has(r)),
        stopping: context.stopping.length ? context.stopping.filter((r) => !gone.has(r)) : context.stopping,
      };
    }),
    markSettled: assign({
      settled: ({ context, event }) => {
        const ids = (event as { ids?: string[] }).ids ?? [];
        const add = ids.filter((id) => context.running.includes(id) && !context.settled.includes(id));
        return add.length ? [...context.settled, ...add] : context.settled;
      },
    }),
    routeControl: enqueueActions(({ enqueue, context, event }) => {
      if (event.type !== 'CONTROL' || !context.running.includes(event.id)) return;
      const tell = (e: TaskMachineEvent) => enqueue({ type: 'tellTask', params: { id: event.id, event: e } });
      if (event.command === 'stop') tell({ type: 'STOP' });
      else if (event.command === 'reload') tell({ type: 'RELOAD' });
      else tell({ type: 'EVENT', name: event.name, payload: event.payload });
    }),
    loseLeases: enqueueActions(({ enqueue, context, event }) => {
      const ids = (event as unknown as { output?: { lost: string[] }; ids?: string[] }).ids ?? (event as unknown as { output: { lost: string[] } }).output.lost;
      for (const id of ids) if (context.running.includes(id)) enqueue({ type: 'tellTask', params: { id, event: { type: 'LEASE_LOST' } } });
    }),
    /** a stop's grace is over: the tasks whose functions still run are halted, to be handed back */
    haltForStop: assign({ haltedForStop: ({ context }) => context.running.filter((id) => !context.settled.includes(id) && !context.stopping.includes(id)) }),
    /** HALT every task but those told to stop (a task writing its END takes none: told it all the same, it writes on) */
    haltForLeaving: enqueueActions(({ enqueue, context }) => {
      for (const id of context.running) if (!context.stopping.includes(id)) enqueue({ type: 'tellTask', params: { id, event: { type: 'HALT' } } });
    }),
    /** a task running here told to stop: it will end stopped */
    noteStopping: assign({
      stopping: ({ context, event }) =>
        event.type === 'CONTROL' && event.command === 'stop' && context.running.includes(event.id) && !context.stopping.includes(event.id) ? [...context.stopping, event.id] : context.stopping,
    }),
    /**
     * keep what a hand-back needs of each task in haltedForStop (its lease, and its entry should
     * Redis have lost it): its task machine ends, and its record is released, before it goes back
     */
    keepForHandBack: actionNotProvided('worker', 'keepForHandBack'),
    outOfTime: assign({ outOfTime: () => true }),
    haltTasks: enqueueActions(({ enqueue, context }) => {
      for (const id of context.running) enqueue({ type: 'tellTask', params: { id, event: { type: 'HALT' } } });
    }),
    /**
     * The worker is done: stop every task machine still running, without an end (the runtime
     * has halted or handed back every task before this point)
     */
    stopTasks: actionNotProvided('worker', 'stopTasks'),
    /** deliver `params.event` to the task machine of `params.id` (ended already: nothing to tell) */
    tellTask: actionNotProvided('worker', 'tellTask'),
    recordProbe: assign({ lastProbe: ({ event }) => (event as unknown as { output: PeerProbe }).output }),
    /** a task machine crashed: release its local record and log it */
    reportTaskCrash: actionNotProvided('worker', 'reportTaskCrash'),
    /** log a failed effect that the machine recovers from by retrying */
    reportError: actionNotProvided('worker', 'reportError'),
  },
  guards: {
    /** (and the control subscription is live: see `listening`) */
    mayClaim: ({ context }) => context.listening && mayClaim(context),
    /** a queue wait's claim took something */
    claimedAny: ({ event }) => tasksOf(event).length > 0,
    /** a claim answered with nothing, and no other is on its way: the queue is empty for us */
    claimedNothing: ({ context, event }) => tasksOf(event).length === 0 && context.asking.length <= 1,
    /**
     * so, but the control subscription was lost meanwhile: the worker waits for it in
     * `fetching`, not on the queue (a queue wait is a claim)
     */
    emptyWhileDeaf: ({ context, event }) => !context.listening && tasksOf(event).length === 0 && context.asking.length <= 1,
    tookNothing: ({ event }) => tasksOf(event).length === 0,
    /** the claim answering is the last one on its way */
    lastClaim: ({ context }) => context.asking.length <= 1,
    noClaimOnItsWay: ({ context }) => context.asking.length === 0,
    staleClaim: ({ context, event }) => (event as unknown as ClaimAnswer).round !== context.round,
    noTasks: ({ context }) => context.running.length === 0,
    /**
     * no function the stop halted runs now: each task has left (its function returned, or
     * abortTimeout passed, or its lease was lost), or settled as the halt came (its END on its way)
     */
    haltedGone: ({ context }) => !context.haltedForStop.some((id) => context.running.includes(id) && !context.settled.includes(id)),
    outOfTime: ({ context }) => context.outOfTime,
    /** no task, and no claim on its way (of this round or an earlier one) whose tasks would still have to be handed back */
    noWork: ({ context }) => context.running.length === 0 && context.asking.length === 0 && context.behind === 0,
    /** the seed's partition rule (quorum.ts) */
    quorumReached: ({ context, event }) => hasQuorum((event as unknown as { output: PeerProbe }).output, context.partitionPercentage),
  },
  delays: {
    fetchTaskInterval: ({ context }) => context.fetchTaskInterval,
    fetchWorkerInterval: ({ context }) => context.fetchWorkerInterval,
    stopGrace: ({ context }) => context.stopGrace,
    abortTimeout: ({ context }) => context.abortTimeout,
  },
}).createMachine({
  id: 'worker',
  // (every field at once, none spread from the input nor added later: machines/every-field.ts)
  context: ({ input }): EveryField<WorkerContext> => ({
    concurrency: input.concurrency,
    lane: input.lane,
    loneLane: input.loneLane,
    fetchTaskInterval: input.fetchTaskInterval,
    fetchWorkerInterval: input.fetchWorkerInterval,
    partitionPercentage: input.partitionPercentage,
    stopGrace: input.stopGrace,
    abortTimeout: input.abortTimeout,
    finishRetryDelay: input.finishRetryDelay,
    running: [],
    settled: [],
    asking: [],
    round: 0,
    behind: 0,
    alone: false,
    listening: false,
    lastProbe: undefined,
    haltedForStop: [],
    stopping: [],
    outOfTime: false,
  }),
  initial: 'starting',
  invoke: [named('controlListener'), named('redisWatch')],
  on: {
    TASKS_ENDED: { actions: 'forgetTasks' },
    // A task machine that crashed (a bug, not a task failure): drop it rather than die with it.
    TASK_CRASHED: { actions: ['reportTaskCrash', 'forgetTasks'] },
    CONTROL: { actions: ['routeControl', 'noteStopping'] },
    TASKS_SETTLED: { actions: 'markSettled' },
    SWARM_SIZE: { actions: 'countWorkers' },
    CONTROL_READY: { actions: 'controlHeard' },
    CONTROL_LOST: { actions: 'controlLost' },
    // answers to claims asked before the worker left `connected`: their tasks go back (a
    // draining worker waits for them, so that the hand-back goes out before it deregisters)
    CLAIMED: [staleClaim, { actions: ['claimAnswered', 'handBackClaimed'] }],
    CLAIM_FAILED: [{ guard: 'staleClaim', actions: 'staleAnswered' }, { actions: 'claimAnswered' }],
  },
  states: {
    starting: {
      invoke: effect('register', { done: 'connected', failed: 'failed' }),
      on: { STOP: 'deregistering' },
    },
    connected: {
      initial: 'fetching',
      entry: 'newRound',
      invoke: [named('heartbeat'), named('refreshPeers')],
      on: {
        LEASES_LOST: { actions: 'loseLeases' },
        REDIS_LOST: 'probing',
        STOP: 'draining',
      },
      states: {
        fetching: {
          // Claims go out as slots free up (a settled task's END goes with the claim of its
          // slot): one at a time, or two with lanes (mayClaim), and only while the control
          // subscription is live (at start, and after its connection came back, the first claim
          // waits for CONTROL_READY). Each answer starts its tasks here; an empty one with no
          // other claim on its way means the queue has nothing for us: wait on it.
          always: { guard: 'mayClaim', actions: [{ type: 'requestClaim', params: ({ context }: { context: WorkerContext }) => ({ free: Math.min(roomLeft(context), laneNow(context)), round: context.round }) }, 'claimAsked'] },
          on: {
            CLAIMED: [
              staleClaim,
              { guard: 'emptyWhileDeaf', actions: 'claimAnswered' },
              { guard: 'claimedNothing', target: 'waiting', actions: 'claimAnswered' },
              { guard: 'tookNothing', target: 'queueEmpty', actions: 'claimAnswered' },
              { actions: ['claimAnswered', ...startClaimed] },
            ],
            CLAIM_FAILED: failedClaim,
          },
        },
        queueEmpty: {
          // A claim found nothing while another was on its way: no new claim until that one
          // has answered too. If it took tasks, they run and the worker fetches again; if it
          // found nothing too, the worker waits on the queue (or, its control subscription lost
          // meanwhile, in fetching for that).
          always: { guard: 'noClaimOnItsWay', target: 'fetching' },
          on: {
            CLAIMED: [
              staleClaim,
              { guard: 'emptyWhileDeaf', target: 'fetching', actions: 'claimAnswered' },
              { guard: 'claimedNothing', target: 'waiting', actions: 'claimAnswered' },
              { actions: ['claimAnswered', ...startClaimed] },
            ],
            // (the one on its way here is the last: no claim went out since the empty one)
            CLAIM_FAILED: [failedClaim[0], failedClaim[1]],
          },
        },
        claimFailed: {
          // A claim failed while another was on its way: no new claim until that one has
          // answered too (its tasks run), then what the failed ones took is recovered.
          always: { guard: 'noClaimOnItsWay', target: 'recovering' },
          on: {
            CLAIMED: [staleClaim, { actions: ['claimAnswered', ...startClaimed] }],
            CLAIM_FAILED: [{ guard: 'staleClaim', actions: 'staleAnswered' }, { actions: ['claimAnswered', 'reportError'] }],
          },
        },
        waiting: {
          // Block on the queue until an entry arrives or the poll ends, and claim then. The
          // subscription lost, the wait (a claim) is given up (what it took is handed back):
          // fetching claims again once it is live.
          on: { CONTROL_LOST: { target: 'fetching', actions: 'controlLost' } },
          invoke: {
            src: 'waitForTask',
            input: ({ context }: { context: WorkerContext }) => ({ free: roomLeft(context) }),
            onDone: [{ guard: 'claimedAny', target: 'fetching', actions: startClaimed }, { target: 'waiting', reenter: true }],
            onError: { target: 'recovering', actions: 'reportError' },
          },
        },
        recovering: {
          // A claim failed: its reply may be lost after Redis ran it. Hand back what it took.
          invoke: effect('recoverClaims', { done: 'backoff', failed: 'backoff' }),
        },
        backoff: {
          after: { fetchTaskInterval: 'fetching' },
        },
      },
    },
    probing: {
      ...probingState('redisDown', 'partitioned'),
      on: { REDIS_BACK: 'reconciling', STOP: 'draining' },
    },
    redisDown: {
      // Redis is down for everyone: keep the tasks running, fetch nothing, re-check peers.
      ...waitingForRedis,
      on: { REDIS_BACK: 'reconciling', STOP: 'draining' },
    },
    partitioned: {
      // Cut off from the swarm: the monitors will requeue our tasks elsewhere, so stop them
      // (each function is aborted and gets abortTimeout to return; ENDs already on their way
      // keep trying, fenced). Nothing here awaits Redis: halted does, once the tasks are gone.
      entry: 'haltTasks',
      always: { guard: 'noTasks', target: 'halted' },
      after: { abortTimeout: 'halted' },
      on: { STOP: 'deregistering' },
    },
    halted: {
      invoke: named('awaitRedis'),
      on: { REDIS_BACK: 'reconciling', STOP: 'deregistering' },
    },
    reconciling: {
      // (failed: Redis gone again, or answering and refusing, a key of the wrong type written by
      // hand: probing asks the peers at once, and its wait for Redis paces the next try)
      invoke: effect('reconcile', { done: { target: 'connected', actions: 'loseLeases' }, failed: 'probing' }),
      on: { STOP: 'draining' },
    },
    draining: {
      // Fetch nothing more; let running tasks finish within stopGrace, and the claims on their
      // way answer (their tasks are handed back).
      invoke: named('heartbeat'),
      always: { guard: 'noWork', target: 'deregistering' },
      after: { stopGrace: 'leaving' },
      on: { LEASES_LOST: { actions: 'loseLeases' } },
    },
    leaving: {
      // The grace is over. The tasks whose functions still run are halted (aborted, and given
      // abortTimeout to return) and handed back only once their functions have returned: a task
      // handed back first is claimed elsewhere at once, and runs twice at the same time while
      // the first copy heeds its abort. Tasks whose function has settled are not handed back
      // (that would run finished work again): their ENDs are on their way; nor are tasks told
      // to stop halted (they end stopped, within abortTimeout of their stop). The heartbeat goes
      // on: the halted tasks keep their leases until they are handed back. The whole stays
      // within abortTimeout of the halt (and a hand-back's command timeout): a function that
      // ignores its abort is handed back when it has passed.
      entry: ['haltForStop', 'keepForHandBack', 'haltForLeaving'],
      invoke: named('heartbeat'),
      on: { LEASES_LOST: { actions: 'loseLeases' } },
      after: { abortTimeout: { actions: 'outOfTime' } },
      initial: 'aborting',
      states: {
        aborting: {
          always: [
            { guard: 'haltedGone', target: 'handingBack' },
            { guard: 'outOfTime', target: 'handingBack' },
          ],
        },
        handingBack: {
          invoke: {
            id: 'handingBack',
            src: 'handBack',
            // (not a task writing its END now: one whose function returned as the halt came, its
            // END on its way, which would run again)
            input: ({ context }) => ({ ids: context.haltedForStop.filter((id) => !context.settled.includes(id)) }),
            onDone: 'finishing',
            onError: { target: 'finishing', actions: 'reportError' },
          },
        },
        finishing: {
          // the settled tasks' ENDs, and the claims on their way, until abortTimeout has passed
          always: [
            { guard: 'noWork', target: '#worker.deregistering' },
            { guard: 'outOfTime', target: '#worker.deregistering' },
          ],
        },
      },
    },
    deregistering: {
      invoke: effect('deregister', { done: 'stopped', failed: 'stopped' }),
    },
    stopped: { type: 'final', entry: 'stopTasks' },
    failed: { type: 'final', entry: 'stopTasks' },
  },
});
