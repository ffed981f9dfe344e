/**
 * A monitor: while active, sweeps (requeue stale RUNNING tasks, clean up ended ones), fires the
 * schedules that fell due, and sleeps until the earliest lease deadline or schedule tick, never
 * longer than checkTaskInterval or taskTimeout / 4. When
 * Redis is lost it pings the workers: with quorum it waits, without it pauses. When Redis
 * returns, the workers that kept running get one taskTimeout to heartbeat before anything of
 * theirs is requeued. The same server back (its link only was lost, or Redis was frozen), the
 * monitor is active at once and holds only the tasks whose leases were live when it lost Redis
 * (holds); another server, or one it cannot tell, may have lost data: it holds everything and
 * fires nothing for one taskTimeout (grace), so that workers re-assert what Redis lost first. A
 * grace cut short by the link goes on, back to the same server, to the end it had.
 * Pure: effects are provided by src/monitor.ts.
 */
import { assign, setup } from 'xstate';
import { promiseNotProvided, callbackNotProvided, actionNotProvided } from './not-provided.js';
import { effect, named } from './invoke.js';
import { hasQuorum, probingState, waitingForRedis, type PeerProbe } from './quorum.js';

export interface MonitorInput {
  taskTimeout: number;
  checkTaskInterval: number;
  partitionPercentage: number;
  fetchWorkerInterval: number;
}

export interface SweepResult {
  requeued: string[];
  parked: string[];
  reaped: number;
  /** ended tasks still waiting for cleanup after this sweep */
  backlog?: number;
  /** the sweep stopped at its time budget with work left: the next one starts at once */
  behind?: boolean;
  /** dead letters dropped by the retention (deadLetterMax, deadLetterRetention), by reason */
  dropped?: Partial<Record<string, number>>;
  /** Redis time (ms) of the sweep */
  now: number;
  /** when the earliest running lease expires (Redis ms), or -1 when none runs */
  nextDeadline: number;
  /** ms left of a hold on requeues after the swarm went silent (an outage); 0 = none */
  graceLeft?: number;
  /**
   * the `from` of the hold this sweep was judged at (heldFrom), set by the machine (recordSweep);
   * absent when none held it
   */
  heldFrom?: number;
  /**
   * what Redis refused, by partition (a key damaged by hand: the others were swept), or the
   * failure that cut the sweep short (told on the `sweep` event with what its calls did before)
   */
  failures?: string[];
}

/** What one pass over the schedules did (src/effects/schedules.ts). */
export interface FiringResult {
  /**
   * the firings this monitor made: fired, duplicate (the tick's task exists), skipped (overlap),
   * dropped (junk), failed (Redis refused its script: `reason` says why)
   */
  firings: { name: string; tick: number; outcome: 'fired' | 'duplicate' | 'skipped' | 'dropped' | 'failed'; id: string; reason?: string }[];
  /** Redis time (ms) of the pass */
  now: number;
  /** the earliest tick to come (Redis ms), or -1 when no schedule is set */
  nextDue: number;
}

/**
 * A time this monitor lost Redis (Redis ms: the last it heard from it), and the end of the hold
 * on what was live then: one taskTimeout after the first sweep back, once that has run.
 */
export interface Hold {
  from: number;
  until?: number;
}

export interface MonitorContext extends MonitorInput {
  lastSweep?: SweepResult;
  lastFiring?: FiringResult;
  lastProbe?: PeerProbe;
  /**
   * Losses of Redis whose hold is not over, oldest first. A sweep takes only what was stale at
   * the oldest one's `from`. One per loss: a link that drops again and again (a flaky network, a
   * proxy resetting connections) makes a hold each time, each over a taskTimeout after its
   * return, where a grace begun anew at each return held every requeue and firing for good.
   */
  holds: Hold[];
  /**
   * The grace under way, from its beginning to its end: a return to the same server while it is
   * owed goes on with it, where a blip of the link began it anew (and a link that dropped more
   * often than taskTimeout kept it for good). `until`: when it ends (Redis ms), once its first
   * sweep told Redis's time; `seen`: Redis time of its last sweep, from which what is left of it
   * is counted.
   */
  grace?: { until?: number; seen?: number };
}

/** REDIS_BACK's `sameServer`: Redis answers from the process it did before the loss (its run id) */
export type MonitorEvent = { type: 'REDIS_LOST' } | { type: 'REDIS_BACK'; sameServer?: boolean } | { type: 'STOP' };

const MAX_DELAY = 2 ** 31 - 1;

/**
 * Redis back: the same server, active at once under the holds, or back to the grace it owes;
 * another server (or one that names none), a grace begun anew.
 */
const back = [
  { guard: 'sameServerGraceOwed' as const, target: '#monitor.grace' },
  { guard: 'sameServer' as const, target: '#monitor.active' },
  { target: '#monitor.grace', actions: 'beginGrace' as const },
];

/** the longest sleep between sweeps: checkTaskInterval, or taskTimeout / 4 when less (sweepDelay) */
export function sweepCap(c: Pick<MonitorContext, 'checkTaskInterval' | 'taskTimeout'>): number {
  return Math.min(c.checkTaskInterval, Math.floor(c.taskTimeout / 4));
}

/**
 * Sleep until the earliest lease deadline or schedule tick, bounded so that a task claimed or a
 * schedule set meanwhile is never missed for longer than the cap.
 *
 * The cap is taskTimeout / 4 at most, whatever checkTaskInterval is: Redis reads no heartbeat and
 * no sweep for over taskTimeout / 2, every worker overdue, as an outage, and holds requeues for
 * one more taskTimeout (src/lua/lib/swarm-silence.lua). Once every worker has died, a monitor's
 * own sweeps are all Redis sees: spaced taskTimeout / 2 or more (the defaults' 15 s and 30 s),
 * they read as that outage, and a dead worker's task ran again a taskTimeout late. At a quarter,
 * what is left of taskTimeout / 2 covers a sweep's own time and a busy host.
 */
export function sweepDelay(c: MonitorContext): number {
  // Node fires a timer over 2^31-1 ms after 1 ms: never ask for one.
  const cap = Math.min(sweepCap(c), MAX_DELAY);
  let d = cap;
  const s = c.lastSweep;
  // A few ms past the deadline, so the lease is really stale by Redis's clock when we look.
  if (s && s.nextDeadline >= 0) d = Math.min(d, s.nextDeadline - s.now + 5);
  const f = c.lastFiring;
  // A tick is due when Redis's ms clock reaches it: 1 ms past, as TIME is read truncated.
  if (f && f.nextDue >= 0) d = Math.min(d, f.nextDue - f.now + 1);
  // What a hold kept back is requeued when it ends: the sweep that finds it over was still
  // judged under it (its input is read before it runs), so the next one goes at once.
  const h = c.holds[0];
  if (s && s.heldFrom !== undefined && s.heldFrom !== h?.from) return 1;
  if (s && h?.until !== undefined) d = Math.min(d, h.until - s.now + 5);
  return Math.max(1, d);
}

/** what is left of the grace under way, from its last sweep (a whole taskTimeout when none told Redis's time) */
export function graceLeft(c: Pick<MonitorContext, 'grace' | 'taskTimeout'>): number {
  const g = c.grace;
  if (g?.until === undefined || g.seen === undefined) return c.taskTimeout;
  return Math.min(MAX_DELAY, Math.max(0, g.until - g.seen));
}

/**
 * the most holds kept: past it the two losses closest in time are one, from the first's `from` to
 * the second's end (holdsAfterLoss)
 */
export const MAX_HOLDS = 64;

/** A loss of Redis: a hold from the last time Redis answered, unless one is still to begin. */
export function holdsAfterLoss(c: Pick<MonitorContext, 'holds' | 'lastSweep' | 'lastFiring' | 'grace'>): Hold[] {
  // (a grace still to make its first sweep holds everything to a taskTimeout after it)
  if (c.grace && c.grace.until === undefined) return c.holds;
  const last = c.holds[c.holds.length - 1];
  // (lost again before a sweep back: the earlier, longer hold stands)
  if (last && last.until === undefined) return c.holds;
  const holds = [...c.holds, { from: Math.max(c.lastSweep?.now ?? 0, c.lastFiring?.now ?? 0) }];
  // (a link lost every few ms, with a long taskTimeout: a bounded list that holds no less). The
  // two losses closest in time, the oldest such pair: a hold made of merged ones is far from its
  // next and is not taken again before the others are (the oldest `from` then lags now by about
  // one taskTimeout, as with no bound). Always the two oldest, a link lost more than MAX_HOLDS
  // times per taskTimeout moved the oldest end on at each loss, as fast as time: that hold never
  // ended, its `from` never moved, and a task whose worker died after it was never requeued
  // while the drops went on (test/monitor-hold-merged-forever.test.ts).
  if (holds.length > MAX_HOLDS) {
    const gap = (i: number) => holds[i + 1]!.from - holds[i]!.from;
    let best = 0;
    // (only the last hold may wait for its first sweep back, with no end yet: not merged)
    for (let i = 1; i + 1 < holds.length && holds[i + 1]!.until !== undefined; i++) if (gap(i) < gap(best)) best = i;
    holds.splice(best, 2, { from: holds[best]!.from, until: holds[best + 1]!.until });
  }
  return holds;
}

/** A sweep at Redis time `now`: the holds it began end a taskTimeout on; those over are dropped. */
export function holdsAfterSweep(holds: Hold[], now: number, taskTimeout: number): Hold[] {
  if (holds.length === 0) return holds;
  return holds.map((h) => (h.until === undefined ? { from: h.from, until: now + taskTimeout } : h)).filter((h) => h.until! > now);
}

export const monitorMachine = setup({
  types: {
    context: {} as MonitorContext,
    events: {} as MonitorEvent,
    input: {} as MonitorInput,
  },
  actors: {
    /** connect and load the worker list */
    connect: promiseNotProvided<void>('monitor', 'connect'),
    /** requeue stale tasks and clean up ended ones (requeue.lua, reap.lua) */
    sweep: promiseNotProvided<SweepResult, { requeue: boolean; heldFrom?: number }>('monitor', 'sweep'),
    /**
     * fire the schedules that fell due, each once whichever monitors try (fire-schedule.lua),
     * at the latest of its missed ticks
     */
    fireSchedules: promiseNotProvided<FiringResult>('monitor', 'fireSchedules'),
    /** ping every known worker at once */
    probePeers: promiseNotProvided<PeerProbe>('monitor', 'probePeers'),
    /** watch the Redis connection; sends REDIS_LOST when it closes */
    redisWatch: callbackNotProvided('monitor', 'redisWatch'),
    /** ping Redis until it answers, then send REDIS_BACK */
    awaitRedis: callbackNotProvided('monitor', 'awaitRedis'),
    /** keep the in-memory worker list fresh, every fetchWorkerInterval */
    refreshPeers: callbackNotProvided('monitor', 'refreshPeers'),
    /** close connections */
    disconnect: promiseNotProvided<void>('monitor', 'disconnect'),
  },
  actions: {
    recordSweep: assign(({ context, event }) => {
      const output = (event as unknown as { output: SweepResult }).output;
      // (the hold it was judged at: the sweep's input, read from these holds as it began)
      const heldFrom = context.holds[0]?.from;
      return { lastSweep: heldFrom === undefined ? output : { ...output, heldFrom }, holds: holdsAfterSweep(context.holds, output.now, context.taskTimeout) };
    }),
    noteLoss: assign({ holds: ({ context }) => holdsAfterLoss(context) }),
    // (what was last heard, and the holds, are another server's, by its clock: the grace holds
    // everything for a taskTimeout from its first sweep, past every hold's end, and a loss in it
    // takes its hold's `from` from the grace's own sweeps)
    beginGrace: assign({ grace: () => ({}), holds: () => [], lastSweep: undefined, lastFiring: undefined }),
    // A grace's sweep is heard from Redis as any other: the holds of losses before it end a
    // taskTimeout on (the grace's first loss with the grace), and a loss after it holds from it.
    recordGraceSweep: assign(({ context, event }) => {
      const output = (event as unknown as { output: SweepResult }).output;
      const now = output.now;
      return { grace: { until: context.grace?.until ?? now + context.taskTimeout, seen: now }, lastSweep: output, holds: holdsAfterSweep(context.holds, now, context.taskTimeout) };
    }),
    // A grace held everything for a taskTimeout: what the holds that end with it kept back has
    // had its time. A loss during the grace whose return came late holds on past its end: a
    // worker cut off with the monitor then has a taskTimeout from that return, as outside a
    // grace (its end dropped every hold, and the live task of such a worker was requeued at once:
    // test/monitor-hold-loss-in-grace.test.ts).
    endGrace: assign(({ context }) => {
      const end = context.grace?.until;
      return { holds: end === undefined ? [] : context.holds.filter((h) => h.until !== undefined && h.until > end), grace: undefined };
    }),
    recordFiring: assign({ lastFiring: ({ event }) => (event as unknown as { output: FiringResult }).output }),
    recordProbe: assign({ lastProbe: ({ event }) => (event as unknown as { output: PeerProbe }).output }),
    reportSweep: actionNotProvided('monitor', 'reportSweep'),
    reportFiring: actionNotProvided('monitor', 'reportFiring'),
    reportError: actionNotProvided('monitor', 'reportError'),
  },
  guards: {
    quorumReached: ({ context, event }) => hasQuorum((event as unknown as { output: PeerProbe }).output, context.partitionPercentage),
    sameServer: ({ event }) => event.type === 'REDIS_BACK' && event.sameServer === true,
    sameServerGraceOwed: ({ context, event }) => event.type === 'REDIS_BACK' && event.sameServer === true && context.grace !== undefined,
  },
  delays: {
    sweepDelay: ({ context }) => sweepDelay(context),
    taskTimeout: ({ context }) => context.taskTimeout,
    graceLeft: ({ context }) => graceLeft(context),
    fetchWorkerInterval: ({ context }) => context.fetchWorkerInterval,
  },
}).createMachine({
  id: 'monitor',
  context: ({ input }) => ({ ...input, holds: [] }),
  initial: 'starting',
  invoke: named('redisWatch'),
  on: { STOP: '.stopping' },
  states: {
    starting: {
      invoke: effect('connect', { done: 'active', failed: 'failed' }),
    },
    active: {
      initial: 'sweeping',
      invoke: named('refreshPeers'),
      on: { REDIS_LOST: 'probing' },
      states: {
        sweeping: {
          // A failed sweep means Redis trouble: find out whether we are cut off.
          invoke: effect('sweep', {
            input: ({ context }: { context: MonitorContext }) => ({ requeue: true, heldFrom: context.holds[0]?.from }),
            done: { target: 'firing', actions: ['recordSweep', 'reportSweep'] },
            failed: '#monitor.probing',
          }),
        },
        // Only an active monitor fires: in grace (Redis may have lost data), workers re-assert
        // the tasks Redis lost first, so a tick whose mark Redis lost finds its task there and
        // is not fired twice.
        firing: {
          invoke: effect('fireSchedules', { done: { target: 'idle', actions: ['recordFiring', 'reportFiring'] }, failed: '#monitor.probing' }),
        },
        idle: {
          after: { sweepDelay: 'sweeping' },
        },
      },
    },
    probing: {
      entry: 'noteLoss',
      ...probingState('waiting', 'paused'),
      on: { REDIS_BACK: back },
    },
    waiting: {
      // Redis is down for everyone: nothing to sweep; re-check peers now and then.
      ...waitingForRedis,
      on: { REDIS_BACK: back },
    },
    paused: {
      // Cut off: another monitor may be sweeping; we requeue nothing.
      ...waitingForRedis,
      on: { REDIS_BACK: back },
    },
    grace: {
      // Redis is back from another server, or one we cannot tell: it may have lost data. Let
      // workers that kept running heartbeat, and re-assert what Redis lost, before anything is
      // requeued or fired: one taskTimeout from the grace's first sweep, however often the link
      // drops meanwhile (a return to the same server goes on with it). Ended tasks are cleaned
      // up at each entry (that sweep works while it has work, within its time budget); what the
      // workers end during the grace is cleaned up by the first sweep after it, which catches up
      // the same way.
      initial: 'cleaning',
      on: { REDIS_LOST: 'probing' },
      states: {
        cleaning: {
          invoke: effect('sweep', { input: { requeue: false }, done: { target: 'done', actions: ['recordGraceSweep', 'reportSweep'] }, failed: 'cleaningFailed' }),
        },
        done: {
          after: { graceLeft: { target: '#monitor.active', actions: 'endGrace' } },
        },
        // (no sweep told Redis's time: a whole taskTimeout from here)
        cleaningFailed: {
          after: { taskTimeout: { target: '#monitor.active', actions: 'endGrace' } },
        },
      },
    },
    stopping: {
      // Already stopping: a second STOP must not restart the disconnect.
      on: { STOP: {} },
      invoke: effect('disconnect', { done: 'stopped', failed: 'stopped' }),
    },
    stopped: { type: 'final' },
    failed: { type: 'final' },
  },
});
