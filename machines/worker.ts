/**
 * A worker: registers, then while connected to Redis claims tasks up to its concurrency (one
 * child task actor each), heartbeats them in one batch, routes control messages to them, and
 * when Redis is lost decides by pinging its peers whether to keep running (redisDown) or to
 * halt (partitioned -> halted). Pure: every effect is a named actor or action provided by
 * src/worker-runtime.ts.
 */
import { assign, enqueueActions, fromCallback, fromPromise, setup, stopChild, type AnyEventObject } from 'xstate';
import { taskMachine } from './task.js';

export interface ClaimedTask {
  id: string;
  attempt: number;
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

export interface PeerProbe {
  reached: number;
  total: number;
}

export interface WorkerContext extends WorkerInput {
  /** ids of the tasks this worker holds (each is a child actor `task.<id>`) */
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
  | { type: 'REDIS_LOST' }
  | { type: 'REDIS_BACK' }
  | { type: 'STOP' };

const notProvided = (name: string) => async (): Promise<never> => {
  throw new Error(`worker machine: effect "${name}" not provided`);
};

export const taskActorId = (id: string) => `task.${id}`;

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
    task: taskMachine,
    /** listen for peer pings and list this worker in `workers` */
    register: fromPromise<void>(notProvided('register')),
    /** atomically claim up to `free` queued tasks (claim.lua) */
    claimTasks: fromPromise<{ tasks: ClaimedTask[] }, { free: number }>(notProvided('claimTasks')),
    /** block on the queue until an entry arrives, or fetchTaskInterval passes */
    waitForTask: fromPromise<void>(notProvided('waitForTask')),
    /** renew all leases in one call every heartbeatInterval; sends LEASES_LOST */
    heartbeat: fromCallback<AnyEventObject>(() => {
      throw new Error('worker machine: effect "heartbeat" not provided');
    }),
    /** keep the in-memory list of peers fresh, every fetchWorkerInterval */
    refreshPeers: fromCallback<AnyEventObject>(() => {
      throw new Error('worker machine: effect "refreshPeers" not provided');
    }),
    /** deliver control messages of every task as CONTROL events */
    controlListener: fromCallback<AnyEventObject>(() => {
      throw new Error('worker machine: effect "controlListener" not provided');
    }),
    /** watch the Redis connection; sends REDIS_LOST when it closes */
    redisWatch: fromCallback<AnyEventObject>(() => {
      throw new Error('worker machine: effect "redisWatch" not provided');
    }),
    /** ping Redis until it answers, then send REDIS_BACK (level-triggered: works for a closed
     * connection and for a silent one, as in a real partition) */
    awaitRedis: fromCallback<AnyEventObject>(() => {
      throw new Error('worker machine: effect "awaitRedis" not provided');
    }),
    /** ping every known peer at once, with a short timeout */
    probePeers: fromPromise<PeerProbe>(notProvided('probePeers')),
    /** after Redis returns: check every local task against its lease, re-assert vanished ones */
    reconcile: fromPromise<{ lost: string[] }>(notProvided('reconcile')),
    /** give the tasks still running back to the queue (hand-back.lua) */
    handBack: fromPromise<void, { ids: string[] }>(notProvided('handBack')),
    /** leave `workers`, close the ping server and connections */
    deregister: fromPromise<void>(notProvided('deregister')),
  },
  actions: {
    spawnTasks: enqueueActions(({ enqueue, context, event }) => {
      const tasks = (event as unknown as { output: { tasks: ClaimedTask[] } }).output.tasks;
      for (const t of tasks) {
        enqueue.spawnChild('task', {
          id: taskActorId(t.id),
          input: { ...t, abortTimeout: context.abortTimeout, finishRetryDelay: context.finishRetryDelay },
        });
      }
      enqueue.assign({ running: [...context.running, ...tasks.map((t) => t.id)] });
    }),
    forgetTask: enqueueActions(({ enqueue, context, event }) => {
      const id = event.type.replace(/^xstate\.(done|error)\.actor\.task\./, '');
      enqueue(stopChild(taskActorId(id)));
      enqueue.assign({ running: context.running.filter((r) => r !== id), settled: context.settled.filter((r) => r !== id) });
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
      const to = taskActorId(event.id);
      if (event.command === 'stop') enqueue.sendTo(to, { type: 'STOP' });
      else if (event.command === 'reload') enqueue.sendTo(to, { type: 'RELOAD' });
      else enqueue.sendTo(to, { type: 'EVENT', name: event.name, payload: event.payload });
    }),
    loseLeases: enqueueActions(({ enqueue, context, event }) => {
      const ids = (event as unknown as { output?: { lost: string[] }; ids?: string[] }).ids ?? (event as unknown as { output: { lost: string[] } }).output.lost;
      for (const id of ids) if (context.running.includes(id)) enqueue.sendTo(taskActorId(id), { type: 'LEASE_LOST' });
    }),
    haltTasks: enqueueActions(({ enqueue, context }) => {
      for (const id of context.running) enqueue.sendTo(taskActorId(id), { type: 'HALT' });
    }),
    recordProbe: assign({ lastProbe: ({ event }) => (event as unknown as { output: PeerProbe }).output }),
    /** a task actor crashed: release its local record and log it */
    reportTaskCrash: () => {
      throw new Error('worker machine: effect "reportTaskCrash" not provided');
    },
    /** log a failed effect that the machine recovers from by retrying */
    reportError: () => {
      throw new Error('worker machine: effect "reportError" not provided');
    },
  },
  guards: {
    /** claimed tasks fill every slot */
    claimFillsSlots: ({ context, event }) =>
      freeSlots(context) - (event as unknown as { output: { tasks: ClaimedTask[] } }).output.tasks.length <= 0,
    claimedAny: ({ event }) => (event as unknown as { output: { tasks: ClaimedTask[] } }).output.tasks.length > 0,
    hasFreeSlot: ({ context }) => freeSlots(context) > 0,
    noTasks: ({ context }) => context.running.length === 0,
    /**
     * The seed's rule: reached / total known peers >= partitionPercentage. With no other
     * peer known, a node cannot tell a partition from an outage: it counts as quorum.
     */
    quorumReached: ({ context, event }) => {
      const p = (event as unknown as { output: PeerProbe }).output;
      return p.total === 0 || (p.reached * 100) / p.total >= context.partitionPercentage;
    },
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
  invoke: [
    { id: 'controlListener', src: 'controlListener' },
    { id: 'redisWatch', src: 'redisWatch' },
  ],
  on: {
    'xstate.done.actor.task.*': { actions: 'forgetTask' },
    // A task actor that crashed (a bug, not a task failure): drop it rather than die with it.
    'xstate.error.actor.task.*': { actions: ['reportTaskCrash', 'forgetTask'] },
    CONTROL: { actions: 'routeControl' },
    TASKS_SETTLED: { actions: 'markSettled' },
  },
  states: {
    starting: {
      invoke: {
        src: 'register',
        onDone: 'connected',
        onError: { target: 'failed', actions: 'reportError' },
      },
      on: { STOP: 'deregistering' },
    },
    connected: {
      initial: 'fetching',
      invoke: [
        { id: 'heartbeat', src: 'heartbeat' },
        { id: 'refreshPeers', src: 'refreshPeers' },
      ],
      on: {
        LEASES_LOST: { actions: 'loseLeases' },
        REDIS_LOST: 'probing',
        STOP: 'draining',
      },
      states: {
        fetching: {
          invoke: {
            src: 'claimTasks',
            input: ({ context }) => ({ free: freeSlots(context) }),
            onDone: [
              { guard: 'claimFillsSlots', target: 'full', actions: 'spawnTasks' },
              { guard: 'claimedAny', target: 'fetching', reenter: true, actions: 'spawnTasks' },
              { target: 'waiting' },
            ],
            onError: { target: 'backoff', actions: 'reportError' },
          },
        },
        waiting: {
          invoke: {
            src: 'waitForTask',
            onDone: 'fetching',
            onError: { target: 'backoff', actions: 'reportError' },
          },
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
      invoke: [
        { id: 'awaitRedis', src: 'awaitRedis' },
        {
          src: 'probePeers',
          onDone: [
            { guard: 'quorumReached', target: 'redisDown', actions: 'recordProbe' },
            { target: 'partitioned', actions: 'recordProbe' },
          ],
          onError: { target: 'partitioned', actions: 'reportError' },
        },
      ],
      on: { REDIS_BACK: 'reconciling', STOP: 'draining' },
    },
    redisDown: {
      // Redis is down for everyone: keep the tasks running, fetch nothing, re-check peers.
      invoke: { id: 'awaitRedis', src: 'awaitRedis' },
      on: { REDIS_BACK: 'reconciling', STOP: 'draining' },
      after: { fetchWorkerInterval: 'probing' },
    },
    partitioned: {
      // Cut off from the swarm: the monitors will requeue our tasks elsewhere, so stop them.
      entry: 'haltTasks',
      always: { guard: 'noTasks', target: 'halted' },
      after: { abortTimeout: 'halted' },
      on: { STOP: 'deregistering', REDIS_BACK: 'reconciling' },
    },
    halted: {
      invoke: { id: 'awaitRedis', src: 'awaitRedis' },
      on: { REDIS_BACK: 'reconciling', STOP: 'deregistering' },
    },
    reconciling: {
      invoke: {
        src: 'reconcile',
        onDone: { target: 'connected', actions: 'loseLeases' },
        onError: { target: 'probing', actions: 'reportError' },
      },
      on: { STOP: 'draining' },
    },
    draining: {
      // Fetch nothing more; let running tasks finish within stopGrace.
      invoke: { id: 'heartbeat', src: 'heartbeat' },
      always: { guard: 'noTasks', target: 'deregistering' },
      after: { stopGrace: 'handingBack' },
      on: { LEASES_LOST: { actions: 'loseLeases' } },
    },
    handingBack: {
      invoke: {
        src: 'handBack',
        input: ({ context }) => ({ ids: context.running }),
        onDone: { target: 'deregistering', actions: 'haltTasks' },
        onError: { target: 'deregistering', actions: ['reportError', 'haltTasks'] },
      },
    },
    deregistering: {
      invoke: {
        src: 'deregister',
        onDone: 'stopped',
        onError: { target: 'stopped', actions: 'reportError' },
      },
    },
    stopped: { type: 'final' },
    failed: { type: 'final' },
  },
});
