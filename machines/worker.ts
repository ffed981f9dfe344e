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
  lastProbe?: PeerProbe;
}

export type ControlCommand = { command: 'stop' } | { command: 'reload' } | { command: 'event'; name: string; payload: unknown };

export type WorkerEvent =
  | ({ type: 'CONTROL'; id: string } & ControlCommand)
  | { type: 'LEASES_LOST'; ids: string[] }
  | { type: 'TASKS_SETTLED'; ids: string[] }
  /** these tasks' machines reached their final state (END or abandoned): the runtime batches them */
  | { type: 'TASKS_ENDED'; ids: string[] }
  /** this task's machine threw (a bug, not a task failure) and was stopped */
  | { type: 'TASK_CRASHED'; id: string; error: unknown }
  | { type: 'REDIS_LOST' }
  | { type: 'REDIS_BACK' }
  | { type: 'STOP' };


/** params of startTasks: the tasks a claim returned, and what each task machine takes from the worker */
export interface StartTasks {
  tasks: ClaimedTask[];
  abortTimeout: number;
  finishRetryDelay: number;
}
const claimedTasks = ({ context, event }: { context: WorkerContext; event: AnyEventObject }): StartTasks => ({
  tasks: (event as unknown as { output: { tasks: ClaimedTask[] } }).output.tasks,
  abortTimeout: context.abortTimeout,
  finishRetryDelay: context.finishRetryDelay,
});

/**
 * A claim of up to the free slots, made in `from` (fetching: at once; waiting: when the queue
 * wakes the worker or its poll ends): the tasks claimed are recorded and started; with slots
 * still free, claim again at once; with none claimed (woken for an entry another worker took, or
 * the poll found nothing), wait on the queue. A claim that goes back to `from` re-enters it, to
 * claim again; one that fails is recovered from.
 */
const claiming = (from: 'fetching' | 'waiting') => {
  const startClaimed = ['addRunning', { type: 'startTasks', params: claimedTasks }] as const;
  return {
    input: ({ context }: { context: WorkerContext }) => ({ free: freeSlots(context) }),
    onDone: [
      { guard: 'claimFillsSlots', target: 'full', actions: startClaimed },
      { guard: 'claimedAny', target: 'fetching', reenter: from === 'fetching', actions: startClaimed },
      { target: 'waiting', reenter: from === 'waiting' },
    ],
    onError: { target: 'recovering', actions: 'reportError' },
  } as const;
};

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

export const workerMachine = setup({
  types: {
    context: {} as WorkerContext,
    events: {} as WorkerEvent,
    input: {} as WorkerInput,
  },
  actors: {
    /** listen for peer pings and list this worker in `workers` */
    register: promiseNotProvided<void>('worker', 'register'),
    /** atomically claim up to `free` queued tasks (claim.lua) */
    claimTasks: promiseNotProvided<{ tasks: ClaimedTask[] }, { free: number }>('worker', 'claimTasks'),
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
    /** deliver control messages of every task as CONTROL events */
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
    /** give the tasks still running back to the queue (hand-back.lua) */
    handBack: promiseNotProvided<void, { ids: string[] }>('worker', 'handBack'),
    /** leave `workers`, close the ping server and connections */
    deregister: promiseNotProvided<void>('worker', 'deregister'),
  },
  actions: {
    /**
     * start one task machine per claimed task (params: StartTasks), stepped by the runtime; a live
     * one of the same id is an old claim that has not heard it lost its lease: it is told
     * LEASE_LOST first, and leaves at once (its end is not reported: the id runs on)
     */
    startTasks: actionNotProvided('worker', 'startTasks'),
    /** record the claimed tasks as running (a task claimed again is no longer settled) */
    addRunning: assign(({ context, event }) => {
      const ids = (event as unknown as { output: { tasks: ClaimedTask[] } }).output.tasks.map((t) => t.id);
      return {
        running: [...context.running, ...ids.filter((id) => !context.running.includes(id))],
        settled: context.settled.some((id) => ids.includes(id)) ? context.settled.filter((id) => !ids.includes(id)) : context.settled,
      };
    }),
    /** task machines ended (TASKS_ENDED) or crashed (TASK_CRASHED): forget their ids */
    forgetTasks: assign(({ context, event }) => {
      const gone = new Set(event.type === 'TASKS_ENDED' ? event.ids : event.type === 'TASK_CRASHED' ? [event.id] : []);
      return { running: context.running.filter((r) => !gone.has(r)), settled: context.settled.filter((r) => !gone.has(r)) };
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
    /** claimed tasks fill every slot */
    claimFillsSlots: ({ context, event }) =>
      freeSlots(context) - (event as unknown as { output: { tasks: ClaimedTask[] } }).output.tasks.length <= 0,
    claimedAny: ({ event }) => (event as unknown as { output: { tasks: ClaimedTask[] } }).output.tasks.length > 0,
    hasFreeSlot: ({ context }) => freeSlots(context) > 0,
    noTasks: ({ context }) => context.running.length === 0,
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
  context: ({ input }) => ({ ...input, running: [], settled: [] }),
  initial: 'starting',
  invoke: [named('controlListener'), named('redisWatch')],
  on: {
    TASKS_ENDED: { actions: 'forgetTasks' },
    // A task machine that crashed (a bug, not a task failure): drop it rather than die with it.
    TASK_CRASHED: { actions: ['reportTaskCrash', 'forgetTasks'] },
    CONTROL: { actions: 'routeControl' },
    TASKS_SETTLED: { actions: 'markSettled' },
  },
  states: {
    starting: {
      invoke: effect('register', { done: 'connected', failed: 'failed' }),
      on: { STOP: 'deregistering' },
    },
    connected: {
      initial: 'fetching',
      invoke: [named('heartbeat'), named('refreshPeers')],
      on: {
        LEASES_LOST: { actions: 'loseLeases' },
        REDIS_LOST: 'probing',
        STOP: 'draining',
      },
      states: {
        fetching: {
          invoke: { src: 'claimTasks', ...claiming('fetching') },
        },
        waiting: {
          invoke: { src: 'waitForTask', ...claiming('waiting') },
        },
        recovering: {
          // A claim failed: its reply may be lost after Redis ran it. Hand back what it took.
          invoke: effect('recoverClaims', { done: 'backoff', failed: 'backoff' }),
        },
        full: {
          always: { guard: 'hasFreeSlot', target: 'fetching' },
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
      invoke: effect('reconcile', { done: { target: 'connected', actions: 'loseLeases' }, failed: 'probing' }),
      on: { STOP: 'draining' },
    },
    draining: {
      // Fetch nothing more; let running tasks finish within stopGrace.
      invoke: named('heartbeat'),
      always: { guard: 'noTasks', target: 'deregistering' },
      after: { stopGrace: 'handingBack' },
      on: { LEASES_LOST: { actions: 'loseLeases' } },
    },
    handingBack: {
      // Tasks whose function has settled are not handed back (that would run finished work
      // again): their ENDs are on their way. The others go back to the head of the queue.
      invoke: {
        src: 'handBack',
        input: ({ context }) => ({ ids: context.running.filter((id) => !context.settled.includes(id)) }),
        onDone: { target: 'releasing', actions: 'haltTasks' },
        onError: { target: 'releasing', actions: ['reportError', 'haltTasks'] },
      },
    },
    releasing: {
      // The handed-back functions are aborted and get abortTimeout to return; the settled
      // tasks' ENDs as long to be written.
      always: { guard: 'noTasks', target: 'deregistering' },
      after: { abortTimeout: 'deregistering' },
    },
    deregistering: {
      invoke: effect('deregister', { done: 'stopped', failed: 'stopped' }),
    },
    stopped: { type: 'final', entry: 'stopTasks' },
    failed: { type: 'final', entry: 'stopTasks' },
  },
});
