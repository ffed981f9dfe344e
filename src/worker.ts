/**
 * Worker: the public class. It owns the connections, the task functions and the local task
 * records, and provides every named effect of machines/worker.ts and machines/task.ts. The
 * machine decides when to claim, wait, heartbeat, probe, halt or hand back; this file says how.
 */
import type { Connection } from './redis.js';
import { Cluster, ReplyError, type Redis } from 'ioredis';
import { createActor, fromCallback, waitFor, type Actor, type AnyEventObject } from 'xstate';
import { AWAITING_REDIS, TALKING_TO_REDIS, workerMachine, type ClaimedTask, type WorkerEvent } from '../machines/worker.js';
import { taskMachine } from '../machines/task.js';
import { hasQuorum } from '../machines/quorum.js';
import type { EveryField } from '../machines/every-field.js';
import { onRefused } from './db-select.js';
import { MONITOR_FIELDS, resolveWorkerConfig, type ProcessOptions, type WorkerConfig, WORKER_FIELDS } from './config.js';
import { ConfigError, LeaseLostError, ListenError, PermissionError, StateError } from './errors.js';
import { outOfReach } from './out-of-reach.js';
import { types } from 'node:util';
import { escapeControls, quote } from './quote.js';
import { readTogether } from './read-together.js';
import { OutageLines } from './outage-lines.js';
import { refusalText } from './redis-refusal.js';
import { OwnerEntries } from './address-owners.js';
import { buildKeys, type Keys } from './keys.js';
import { checkLayout } from './effects/layout.js';
import { partitionKeys, partitionOf } from './partitions.js';
import { createLogger, effectErrorReporter, type LoggerLike } from './logger.js';
import { emitStates } from './state-events.js';
import { atKey, connect, connectionName, connectionOwner, lastConnectionError, redisAddress, refusedDb, redisEnds, swarmAt, unavailable } from './redis.js';
import { checkServer } from './server-version.js';
import { formatAddress, isLoopback, isUnspecified, parseAddress } from './address.js';
import type { LocalTask, TaskFunction } from './task.js';
import { EventOutbox } from './effects/event-outbox.js';
import { formatEvent, lastEventArg, parseControl, parseEntry, STATE_EVENT, WATCH_CONTROL, WATCH_TTL, wellFormed, type TaskEntry } from './wire.js';
import { replicaShortfall, replicated } from './effects/durable.js';
import { claim, finishAndClaim, NO_CLAIM, parkClaimed, recoverClaims, waitAndClaim, waitForWork, type ClaimReply, type ClaimRequest, type ClaimResult, type Unrunnable } from './effects/queue.js';
import { handBack, handBackRemembered, keepToldStop, reassert, renewLeases, type HeldLease, type RememberedTask } from './effects/leases.js';
import { attemptsOf } from './retry-policy.js';
import { ClaimLedger } from './claim-ledger.js';
import { within } from './within.js';
import { commandDeadlines } from './command-deadlines.js';
import { EndBatch } from './effects/end-batch.js';
import { type Announced, announce, deregisterWorker, listWorkers, registerWorker } from './effects/registry.js';
import { writeWorkerState } from './effects/worker-states.js';
import { startPeerServer, type PeerServer } from './peer-server.js';
import { probePeers } from './peer-prober.js';
import { awaitRedis, redisWatch } from './redis-watch.js';
import { ticker } from '../actors/ticker.js';
import { taskActions } from './effects/task-actions.js';
import { disarmAttemptTimer } from './attempt-timer.js';
import { compiled } from '../actors/compiled-machine.js';
import { TaskMachines } from '../actors/task-machines.js';
import { StateWatches } from '../actors/state-watches.js';
import { promiseEffect, type EffectArgs } from '../actors/promise-effect.js';
import { WorkerTelemetry } from './telemetry/worker-telemetry.js';
import { MeteredProcess } from './telemetry/metered-process.js';
import { EARLY_CONTROL_CHARS, EARLY_CONTROL_MAX, EarlyControl } from './early-control.js';

export type WorkerOptions = ProcessOptions<typeof WORKER_FIELDS>;

/** a claim's name among the records of old claims kept aside (`replaced`): its task's id and its lease */
const claimKey = (id: string, lease: string) => `${id}\n${lease}`;
/** a control message that is a stop (as parseControl reads it; junk is none) */
const isStop = (message: string): boolean => {
  try {
    return parseControl(message).command === 'stop';
  } catch {
    return false;
  }
};

/** how long to wait for a retried END write after a Redis error */
const FINISH_RETRY_MS = 500;
/** how often a worker cut off from Redis asks whether it is back */
const REDIS_RETRY_MS = 250;
/**
 * a reconcile that failed is tried again no sooner than this, or heartbeatInterval when shorter
 * (redis-watch.ts `holdMs`; within a heartbeat, a lease the retry renews has not aged past a
 * taskTimeout of four heartbeats)
 */
const RECONCILE_RETRY_MS = 1000;
/** a control subscription Redis refused is asked again after this long (logged each time) */
const CONTROL_RETRY_MS = 1000;
/** a function Redis refuses to claim from is logged at most this often (sayRefused) */
const REFUSAL_LOG_MS = 30_000;
/** a start() still waiting after this long says what for (then at doubling intervals) */
const START_NOTICE_MS = 5000;

/** the least ms between two writes of the worker machine's state (workers:states, for the dashboard) */
const STATE_WRITE_MS = 200;
/**
 * From this concurrency up, a claim asks for half the slots, and a second one goes out while the
 * first is on its way (machines/worker.ts `mayClaim`): Redis runs one claim while the worker runs
 * the other's tasks. Below it a half is a handful of tasks, and the round trip a second claim
 * adds costs more than the overlap gains, except for a worker alone in its swarm (LONE_LANES_FROM).
 */
const LANES_FROM = 32;
/**
 * From this concurrency up, a worker that is the swarm's only one has lanes too (`loneLane`):
 * alone, it and Redis take turns, each idle while the other works, and the second claim fills
 * those turns; with other workers, their claims fill Redis's turns already, and the halves only
 * add claims (at concurrency 10, one process: 1.19x the drain rate with lanes; two and four
 * processes: 0.83x and 0.87x, bench/analysis.md). Each claim of such a worker counts the
 * swarm's workers (claim.lua KEYS[11]), so that it knows from its next answer.
 */
const LONE_LANES_FROM = 10;
const laneOf = (concurrency: number) => (concurrency >= LANES_FROM ? Math.ceil(concurrency / 2) : concurrency);
/** the lane of a worker alone in its swarm, when it differs from `laneOf`'s */
const loneLaneOf = (concurrency: number) => (concurrency >= LONE_LANES_FROM && concurrency < LANES_FROM ? Math.ceil(concurrency / 2) : undefined);

/** how late Redis may end a block at its timeout (its cron's tick, 100 ms at the default hz), with room to spare */
const BLOCK_END_SLACK_MS = 250;

/**
 * A command slower than this means Redis is unreachable (or too slow to keep leases alive).
 * With redis.durable, a command may wait behind a WAIT of `durableWait` ms (the one under way
 * on the connection, src/effects/durable.ts), which the replicas decide, not Redis's health: a
 * WAIT past the timeout timed out itself, and the heartbeats, claims and ENDs behind it.
 */
export function redisCommandTimeout(heartbeatInterval: number, durableWait = 0): number {
  return Math.max(1000, 2 * heartbeatInterval) + durableWait;
}

/** the function of a claimed entry (undefined when it does not read: take() parks it) */
function functionOfEntry(raw: string): string | undefined {
  try {
    return parseEntry(raw).function;
  } catch {
    return undefined;
  }
}

/** what a wait needs of the effect it runs in: whether it was stopped, and a call when it is */
type Stoppable = Pick<EffectArgs<unknown>, 'aborted' | 'onAbort'>;

/** a claim's reply, and the partition it claimed in */
interface PartClaim {
  part: WorkerPartition;
  reply: ClaimReply;
  /** performance.now() before its request left */
  sentAt: number;
  /** the partition's data epoch when its request left: the one its tasks were claimed under, or an older one (`take`) */
  epoch: string;
}

/** one partition of the swarm, as a worker sees it (src/partitions.ts) */
interface WorkerPartition {
  index: number;
  keys: Keys;
  /** the tokens of this worker's claims there (claim.lua): a lost reply is recovered, never stranded */
  ledger: ClaimLedger;
  ends: EndBatch;
  outbox: EventOutbox;
  /** the epoch of its data at our last heartbeat: a change means Redis lost its data there */
  epoch: string;
  /** the other processes under this worker's address, as its heartbeats there see them (src/address-owners.ts) */
  owners: OwnerEntries;
  /** those of them gone, at our last heartbeat there: not counted when we deregister */
  othersGone: string[];
  /**
   * the last claim there said Redis refused a function (a key damaged by hand): the next wait
   * there asks ready.lua nothing of the worker's functions, which reads such a function as ready
   * whenever the claim refuses it at a key ready.lua does not read (a group's zset, the lease
   * index, `counts`...), and pushed a wake marker at every wait: an idle worker spun
   * (test/refused-claim-swarm-key-spin.test.ts). It waits for a new entry or the poll.
   */
  refused: boolean;
  /**
   * the last claim there took nothing and said Redis refused something: an entry it could
   * neither route nor park (its function's queue and the dead-letter store damaged) waits in the
   * ingress, where every block returns at once: the next wait first sleeps for its poll
   * (test/refused-route-park-refused.test.ts)
   */
  stalled: boolean;
  /**
   * Redis's clock there at our last heartbeat: its `now`, and when that heartbeat left, on the
   * monotonic clock (`sentAt`) and on the wall clock (`wall`), so that Redis's time now is read
   * from it at or past the real one (`claimAge`)
   */
  clock?: { now: number; sentAt: number; wall: number };
}

export class Worker extends MeteredProcess {
  readonly config: WorkerConfig;
  private readonly keys: Keys;
  private readonly log: LoggerLike;
  /** how it says an outage: once, and a refusal as one (src/outage-lines.ts) */
  private readonly outage: OutageLines;
  /** the runs whose refused progress was said (task.update: once a claim) */
  private readonly progressRefusedTold = new WeakSet<LocalTask>();
  private readonly functions = new Map<string, TaskFunction>();
  /** tasks claimed by the last claim, not yet adopted by their task machine */
  private readonly pending = new Map<string, LocalTask>();
  /** tasks this worker runs and heartbeats */
  private readonly tasks = new Map<string, LocalTask>();
  /** control messages heard for tasks not held here, for a claim whose reply is still on its way */
  private readonly early: EarlyControl;
  /** old claims whose END is still on its way while a new claim of their id runs, by `id\nlease` */
  private readonly replaced = new Map<string, LocalTask>();
  private peers: string[] = [];
  /**
   * each partition of the swarm (src/partitions.ts; one unless redis.partitions says more), with
   * what this worker keeps per partition: its claim ledger, END batch, event outbox and epoch
   */
  private readonly parts: WorkerPartition[];
  /**
   * the hand-back of the tasks a stop's hand-back left because Redis did not answer it, under
   * way from then (handBackLeft); `deregister` waits for it
   */
  private handingBackLeft?: Promise<void>;
  /**
   * the tasks a stop halted, as they were when it halted them (keepForHandBack): their records
   * leave `tasks` as their functions return, and are handed back after
   */
  private readonly keptForHandBack = new Map<string, LocalTask>();
  /** performance.now() when the stop halted its tasks: its hand-back is tried until abortTimeout from then */
  private haltedAt = 0;
  /** the renew under way: heartbeats, task.update() and reconcile share one, never two at once */
  private renewing?: Promise<string[]>;
  /** the monitors' taskTimeout this worker last heard from Redis (its heartbeatInterval is checked against each new one) */
  private taskTimeoutHeard?: number;
  /** the worker set's size when the peers were last listed on a heartbeat's word (`heardSwarmSize`) */
  private sizeListed?: number;
  private listingPeers?: Promise<void>;
  /**
   * the wait under way (waitForTask). Its room grows while it waits when a task of a function
   * capped here settles, or a function is added; nothing new reaches the queue then, so the wait
   * would last until the poll: it is ended (`rouse`), and the worker claims at once.
   * `held`: the capped functions whose room the wait's request cut.
   */
  private wait?: { held: Set<string>; roused: boolean; end?: () => void };
  /** per function, how many of its tasks may run at once here (addTaskFunction's `concurrency`) */
  private readonly caps = new Map<string, number>();
  /** when each refusal a claim told of was last logged (sayRefused) */
  private readonly refusalsLogged = new Map<string, number>();
  /** where the next claim starts in the function list */
  private rotation = 0;
  /** ms until something a claim saw held back by a rate limit may be claimable */
  private wakeIn?: number;
  /** claims count the swarm's workers (a lone worker's lanes differ: loneLaneOf) */
  private readonly countsWorkers: boolean;
  /** the last count told the machine was of this worker alone (SWARM_SIZE) */
  private alone = false;
  /** a claim's answer with tasks went to the machine in this turn of the event loop (`answer`) */
  private answeredThisTurn = false;
  /** listed in `workers` (registered) */
  private listed = false;
  /**
   * the registration under way, settled either way: a stop while starting ends the `register`
   * actor, not the commands it has sent, and `deregister` lets them land before it undoes them
   */
  private registering?: Promise<unknown>;
  /** a registration command has been sent (it may have landed even if it failed here) */
  private registrationSent = false;
  private readonly redis: Connection;
  /** stops the command connection's deadline watch (commandDeadlines) */
  private readonly stopDeadlines: () => void;
  private readonly sub: Connection;
  /** where the swarm's partition count is kept (src/effects/layout.ts) */
  private readonly layoutKey: string;
  /** the functions' rooms in a claim of `max` while none is capped (functionRooms; renewed as functions are added) */
  private rooms?: { max: number; functions: ClaimRequest['functions'] };
  /**
   * per capped function, the room that claims on their way asked for: with two claims out at
   * once (lanes), the second must not be given the room the first may fill
   */
  private readonly asked = new Set<Map<string, number>>();
  /**
   * the claims on their way: a lane's (requestClaim) until the machine has its answer, a wait's
   * across partitions until its tasks are taken or handed back
   */
  private readonly claiming = new Set<Promise<unknown>>();
  /** where the next claim across partitions starts */
  private partRotation = 0;
  private blocking?: Connection;
  /** per partition, with several: the blocking connection of its waits */
  private readonly partWaits = new Map<number, Connection>();
  /**
   * blocking connections whose wait was abandoned: the timer that drops them, and a promise
   * settled once what their wait claimed has been taken (handed back)
   */
  private readonly retiring = new Map<Connection, { timer: NodeJS.Timeout; taken: Promise<void> }>();
  /** blocking connections made so far: each gets its own client name, so stop can find it */
  private blockingMade = 0;
  private server?: PeerServer;
  private actor?: Actor<typeof workerMachine>;
  private startError?: unknown;
  /** start() opening the metrics server, before it starts the machine (settled either way) */
  private opening?: Promise<void>;
  /** start() under way or over, settled either way */
  private started?: Promise<void>;
  /** while start() waits: told when Redis refuses the control subscription for good (NOPERM) */
  private controlRefused?: (e: PermissionError) => void;
  private listenPort: number;
  /** the host peers reach us on, once known: Redis's side of our connection to it, unless configured */
  private advertisedHost?: string;
  private formatted?: { host: string; port: number; address: string };
  /** names our connections (redis.ts connectionOwner), unique to this worker */
  private readonly owner = connectionOwner();
  /** performance.now() of the last reconcile, when it failed: the next REDIS_BACK waits (RECONCILE_RETRY_MS) */
  private reconcileFailedAt?: number;
  /** other processes found heartbeating under this worker's address (heardTwin) */
  private readonly twinsHeard = new Set<string>();
  /** metrics and traces (src/telemetry/worker-telemetry.ts) */
  protected readonly telemetry: WorkerTelemetry;
  /** the task machines, once the machine is built (read by the metrics) */
  private taskMachines?: TaskMachines;
  /** task machines someone watches: their state goes out as `machine-state` events (fenced like any) */
  private readonly stateWatches = new StateWatches((record, value) => {
    const t = this.tasks.get(record.id);
    // this claim's machine, while Redis is ours: otherwise the next step or watch says it
    if (!t || t.lease !== (record.getSnapshot().context as { lease?: string }).lease || !this.live) return false;
    this.publish(t, STATE_EVENT, { id: t.id, value });
    return true;
  }, WATCH_TTL);

  constructor(options: WorkerOptions = {}) {
    super();
    this.config = resolveWorkerConfig(options);
    this.countsWorkers = loneLaneOf(this.config.concurrency) !== undefined;
    this.listenPort = this.config.port;
    this.log = createLogger('worker', options.logger);
    this.outage = new OutageLines(this.log, 'worker', () => this.redis.status === 'ready');
    this.telemetry = new WorkerTelemetry(
      this.config,
      {
        address: () => this.address,
        tasks: () => this.tasks.values(),
        taskStates: () => (this.taskMachines?.ids() ?? []).map((id) => this.taskMachines?.get(id)?.getSnapshot().value),
      },
      this,
    );
    const commandTimeout = redisCommandTimeout(this.config.heartbeatInterval, this.config.redis.durable ? this.config.redis.durableTimeout : 0);
    // A silent connection (partition) must fail a heartbeat rather than hang it. No
    // auto-pipelining: the worker batches what it sends itself (ends with the next claim, events
    // per tick, every lease in one renew), and ioredis's auto-pipeline would hold each of those
    // calls for a setImmediate and wrap it in a Pipeline (measured in docs/benchmarks.md).
    // (the timeout kept by commandDeadlines, not by ioredis's timer per call)
    this.redis = connect(this.config.redis, 'command', this.owner, { enableAutoPipelining: false });
    this.stopDeadlines = commandDeadlines(this.redis, commandTimeout);
    // (the control subscription is made again at each 'ready' by controlListener, which handles
    // a refusal: ioredis's own resubscribe left a refused one, NOPERM, unhandled, and an
    // unhandled rejection ends the process)
    this.sub = connect(this.config.redis, 'subscriber', this.owner, { autoResubscribe: false });
    // Kept as long as a claim's reply may take: a claim whose reply takes longer fails (the
    // command timeout), and what it took is handed back, never adopted here. From the claim
    // running in Redis to its reply read here is at most that, and a message published after the
    // claim ran was heard after it ran: a claim adopted here finds every such message still kept.
    this.early = new EarlyControl(commandTimeout, EARLY_CONTROL_MAX, EARLY_CONTROL_CHARS);
    // ioredis reports connection errors as 'error' events; the machines handle the loss.
    for (const c of [this.redis, this.sub]) c.on('error', (e: Error) => this.log.debug(`redis: ${e.message}`));
    // (at start the refusal fails start() itself; once running, the worker waits as for a Redis
    // that is down, and says why once, rather than run in db 0: src/db-select.ts)
    onRefused(this.redis, `Redis at ${redisAddress(this.config.redis)}`, (refused) => {
      if (this.actor && !this.actor.getSnapshot().matches('starting')) this.log.error(`${refused.message}: this worker waits as for a Redis that is down, its tasks with it, until the server has the database again`);
    });
    this.parts = partitionKeys(this.config.redis).map((keys, index) => this.partition(keys, index));
    this.layoutKey = buildKeys(this.config.redis).layout;
    this.keys = this.parts[0]!.keys;
  }

  /** a partition's keys, and what this worker keeps for it */
  private partition(keys: Keys, index: number): WorkerPartition {
    const outbox = new EventOutbox(
      this.redis,
      keys,
      this.config.eventBuffer,
      (n) => {
        this.telemetry.eventsDropped(n);
        this.log.warn(`Redis unreachable: event buffer full, ${n} oldest event(s) dropped`);
      },
      (fenced) => {
        // only the copy that emitted: a later claim of the same id is another lease
        const lost = fenced.flatMap((f) => {
          const t = this.tasks.get(f.id);
          return t?.lease === f.lease ? [t] : [];
        });
        this.telemetry.lost('event', lost);
        if (lost.length) this.actor?.send({ type: 'LEASES_LOST', ids: lost.map((t) => t.id) });
      },
    );
    const ends = new EndBatch(
      this.redis,
      keys,
      (ends) => {
        // only the claims these ENDs are for: an old copy's END must not mark settled a new
        // claim of its id that this worker runs now (its slot would be counted free twice)
        const ids = ends.filter((e) => this.tasks.get(e.id)?.lease === e.lease).map((e) => e.id);
        if (ids.length === 0) return;
        this.actor?.send({ type: 'TASKS_SETTLED', ids });
        this.rouse(ids.map((id) => this.tasks.get(id)?.entry.function ?? ''));
      },
      () => outbox.flushNow(),
      (ended) => {
        for (const e of ended) this.early.forget(index, e.id);
      },
      // (only with redis.durable: no wait, no message built, no promise per END batch without it)
      this.config.redis.durable
        ? (endings) =>
            replicated(this.redis, keys.taskSet, this.config.redis, `END of ${endings.map((e) => `task ${quote(e.id)}`).join(', ')}`, endings.map((e) => e.id)).catch((e: unknown) => {
              // written on the primary: a failover now could lose it, and the task would run again
              this.log.warn((e as Error).message);
            })
        : undefined,
    );
    return { index, keys, ledger: new ClaimLedger(), ends, outbox, epoch: '', owners: new OwnerEntries(), othersGone: [], refused: false, stalled: false, clock: undefined };
  }

  /** the partition task `id` runs from: its claim's (a task not claimed here: its id's) */
  private partOf(id: string): WorkerPartition {
    if (this.parts.length === 1) return this.parts[0]!;
    const t = this.tasks.get(id) ?? this.pending.get(id);
    return this.parts[t?.part ?? partitionOf(id, this.parts.length)]!;
  }

  /** `host:port` peers and Redis know this worker by */
  get address(): string {
    if (this.config.advertise !== undefined) return this.config.advertise;
    // read by every claim: formatted again only when the host or port changed (isIPv6 is a regexp)
    const host = this.advertisedHost ?? this.config.host ?? '127.0.0.1';
    const m = this.formatted;
    if (m?.host === host && m.port === this.listenPort) return m.address;
    return (this.formatted = { host, port: this.listenPort, address: formatAddress(host, this.listenPort) }).address;
  }

  /** current machine state value, e.g. `{ connected: 'waiting' }` or `'halted'` */
  get state(): unknown {
    return this.actor?.getSnapshot().value ?? 'idle';
  }

  /** ids of the tasks running here */
  get running(): string[] {
    return [...this.tasks.keys()];
  }

  /**
   * Run tasks of function `name` with `fn`. `options.concurrency` caps how many of them run at
   * once on this worker (within its `concurrency`); swarm-wide limits are `Client.setLimit`'s.
   * A worker claims only tasks of functions it has: tasks of others wait for a worker that has
   * them.
   */
  addTaskFunction<D = any, R = unknown>(name: string, fn: TaskFunction<D, R>, options: { concurrency?: number } = {}): this {
    if (typeof name !== 'string' || name === '') throw new ConfigError('addTaskFunction: name must be a non-empty string');
    // (Redis keeps names as UTF-8: a lone surrogate would be listed as U+FFFD, a name no task has)
    if (!wellFormed(name)) throw new ConfigError('addTaskFunction: name must be well-formed Unicode (it holds a lone surrogate)');
    if (typeof fn !== 'function') throw new ConfigError(`addTaskFunction("${name}"): fn must be a function`);
    // (its call returns a generator object, which JSON writes as {}: each task would succeed undone)
    if (types.isGeneratorFunction(fn)) throw new ConfigError(`addTaskFunction("${name}"): fn is a generator function (function*), whose body a call does not run: give an async function`);
    if (options === null || typeof options !== 'object') throw new ConfigError(`addTaskFunction("${name}"): options must be an object`);
    // (a key it does not know is usually a typo, `concurency`: the cap meant would not be set)
    for (const k of Object.keys(options)) if (k !== 'concurrency') throw new ConfigError(`addTaskFunction("${name}"): unknown option ${quote(k)} (known: concurrency)`);
    const cap = options.concurrency;
    if (cap !== undefined && (!Number.isSafeInteger(cap) || cap < 1)) {
      throw new ConfigError(`addTaskFunction("${name}"): options.concurrency must be an integer >= 1, got ${quote(cap)}`);
    }
    // (the same name given another function: a name copied and not changed, most likely; the
    // first was left unrun, without a word. Said, and replaced: a reload of a function is not refused)
    const had = this.functions.get(name);
    if (had !== undefined && had !== fn) this.log.warn(`addTaskFunction(${quote(name)}): another function was added under this name before; this one replaces it (is the name right?)`);
    this.functions.set(name, fn as TaskFunction);
    if (cap === undefined) this.caps.delete(name);
    else this.caps.set(name, cap);
    this.rooms = undefined;
    this.rouse();
    // a running worker says it serves this function now (stats, status)
    if (this.listed) for (const part of this.parts) announce(this.redis, part.keys, this.address, this.announced()).catch(() => {});
    return this;
  }

  /** the state to write once the write under way is done (one write at a time: a burst writes the latest) */
  private stateToWrite?: { value: unknown };
  private writingState = false;
  /** set once it deregisters (which drops its record): nothing is written after, or the record would outlive it */
  private stateClosed = false;

  /**
   * Keep the machine's state in `workers:states` for the dashboard, one write at a time, at most
   * one per STATE_WRITE_MS; failures are not the worker's concern.
   */
  private recordState(value: unknown): void {
    if (value === 'deregistering' || value === 'stopped' || value === 'failed') this.stateClosed = true;
    if (this.stateClosed) {
      this.stateToWrite = undefined;
      return;
    }
    this.stateToWrite = { value };
    // (before it registers, its address is not the one the swarm knows it by: written then)
    if (this.writingState || !this.listed) return;
    this.writingState = true;
    const next = (): void => {
      const w = this.stateToWrite;
      this.stateToWrite = undefined;
      if (!w || this.stateClosed) {
        this.writingState = false;
        return;
      }
      // at most one write per STATE_WRITE_MS: a busy worker that passes fetching/waiting per
      // claim writes a few times a second, whatever its task rate; the latest state is written last
      const after = () => setTimeout(next, STATE_WRITE_MS).unref();
      writeWorkerState(this.redis, this.keys, this.address, w.value).then(after, after);
    };
    next();
  }

  /**
   * Register and start claiming. Resolves once the worker is listed in Redis, serves peer pings
   * and hears control messages (Redis has acknowledged its control subscription): a task
   * submitted from then on and stopped as soon as it runs is stopped.
   */
  async start(): Promise<void> {
    if (this.actor?.getSnapshot().status === 'done') throw new StateError(`this worker has stopped (or failed to start), and does not start again: make a new Worker`);
    if (this.actor) throw new StateError('worker already started');
    const starting = this.starting();
    this.started = starting.catch(() => {});
    return starting;
  }

  private async starting(): Promise<void> {
    // the worker machine as it runs here: compiled, as its task machine (docs/task-actors.md)
    const actor = createActor(compiled(this.machine()) as unknown as ReturnType<Worker['machine']>, {
      input: {
        concurrency: this.config.concurrency,
        lane: laneOf(this.config.concurrency),
        loneLane: loneLaneOf(this.config.concurrency),
        fetchTaskInterval: this.config.fetchTaskInterval,
        fetchWorkerInterval: this.config.fetchWorkerInterval,
        partitionPercentage: this.config.partitionPercentage,
        stopGrace: this.config.stopGrace,
        abortTimeout: this.config.abortTimeout,
        finishRetryDelay: FINISH_RETRY_MS,
      },
    });
    this.actor = actor;
    // (a stop() meanwhile is queued for the machine, which starts after this, or never: the stop
    // waits for this first, not for a machine that will never end)
    const opening = (async () => {
      try {
        await this.telemetry.start(this.log);
      } catch (e) {
        // Never started: nothing to stop, and nothing to close (the connections connect as
        // the machine first uses them), so that start() may be called again once the metrics
        // port is free. Closed, they made that start() fail as if Redis were unreachable.
        this.actor = undefined;
        await this.telemetry.close();
        throw e;
      }
    })();
    this.opening = opening.catch(() => {});
    await opening;
    emitStates(actor, this, this.log, 'worker');
    this.on('state', (value: unknown) => this.recordState(value));
    // Events go out while the worker is connected and has reconciled its tasks (see EventOutbox).
    let last: unknown;
    actor.subscribe((snap) => {
      if (snap.value === last) return;
      last = snap.value;
      const top = typeof snap.value === 'string' ? snap.value : Object.keys(snap.value)[0];
      const open = top !== undefined && (TALKING_TO_REDIS as readonly string[]).includes(top);
      for (const part of this.parts) part.outbox.setOpen(open);
    });
    // An ACL user without the control channels is refused them at every try: no use waiting
    // (the first refusal is the abort's reason: a later abort changes nothing)
    const refused = new AbortController();
    this.controlRefused = (e) => refused.abort(e);
    actor.start();
    const notices = this.startNotices(actor);
    // connected, and hearing control messages: a task submitted from now on and stopped as soon
    // as it runs is stopped (see `listening` in machines/worker.ts)
    const s = await waitFor(actor, (x) => (x.matches('connected') && x.context.listening) || x.status === 'done', { timeout: Infinity, signal: refused.signal })
      .catch((e: unknown) => {
        if (!refused.signal.aborted) throw e;
        return undefined;
      })
      .finally(notices);
    this.controlRefused = undefined;
    if (!s) return this.failStart(actor, refused.signal.reason as PermissionError);
    if (s.matches('failed')) {
      await this.leaveFailed();
      throw this.startError instanceof Error ? this.startError : new StateError(`worker failed to start: ${String(this.startError)}`);
    }
    if (s.status === 'done') throw new StateError('worker was stopped while starting');
    this.log.info(`started on ${this.address} (${swarmAt(this.config.redis)}), functions: ${[...this.functions.keys()].join(', ') || '(none)'}; concurrency ${this.config.concurrency}`);
    // (it runs, and counts for its peers' quorum, but takes nothing: most likely a mistake)
    if (this.functions.size === 0) this.log.warn('no task function added yet: this worker claims no task until one is (addTaskFunction)');
  }

  /**
   * start() waits for as long as it takes (a Redis that comes back, a subscriber connection that
   * connects late), and says so: a warning naming what it waits for after START_NOTICE_MS, then
   * at twice each interval before, up to every minute. Returns what ends them.
   */
  private startNotices(actor: Actor<typeof workerMachine>): () => void {
    const began = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const notice = (wait: number) => {
      timer = setTimeout(() => {
        const s = actor.getSnapshot();
        const error = lastConnectionError(this.sub);
        const sub = this.sub.status === 'ready' ? 'connected' : `${this.sub.status}${error ? `: ${error.message}` : ''}`;
        const what = s.matches('starting')
          ? 'its registration in Redis'
          : s.matches('connected')
            ? `its control subscription (subscriber connection ${sub})`
            : `Redis (the worker is ${JSON.stringify(s.value)})`;
        this.log.warn(`start() has waited ${Math.round((Date.now() - began) / 1000)} s for ${what}; no task is claimed until then`);
        notice(Math.min(2 * wait, 60_000));
      }, wait);
      timer.unref();
    };
    notice(START_NOTICE_MS);
    return () => clearTimeout(timer);
  }

  /**
   * start() cannot succeed (`e`): the worker leaves as a stop does (deregistered, connections
   * closed), then start() rejects with `e`. It claimed nothing, not having heard control yet.
   * Its registration is let end first, so that a failure of it is the error start() gives.
   */
  private async failStart(actor: Actor<typeof workerMachine>, e: Error): Promise<never> {
    const s = await waitFor(actor, (x) => !x.matches('starting'), { timeout: Infinity });
    if (s.matches('failed')) {
      await this.leaveFailed();
      throw this.startError instanceof Error ? this.startError : e;
    }
    await this.stop();
    throw e;
  }

  /**
   * The registration failed (the machine `failed`): what of it landed is undone, as a stop
   * deregisters, then the connections close. A registration that failed once it was sent (a
   * partition's timed out, or the peer list's read after them) may have listed the worker in
   * every partition: left so, it would be a peer nobody answers for until a monitor pruned it.
   * Bounded: a Redis that does not answer costs start() 2 s more, not its rejection.
   */
  private async leaveFailed(): Promise<void> {
    this.listed = false;
    if (this.registrationSent) await within(2000, Promise.all(this.parts.map((part) => deregisterWorker(this.redis, part.keys, this.address, this.owner, part.othersGone))));
    await this.closeConnections();
  }

  /** Graceful: stop fetching, let running tasks finish within stopGrace, abort the rest and hand them back once they have returned (or abortTimeout has passed), deregister. */
  async stop(): Promise<void> {
    const actor = this.actor;
    if (!actor) return;
    if (actor.getSnapshot().status !== 'done') {
      actor.send({ type: 'STOP' });
      await this.opening;
      if (this.actor !== actor) return; // start() failed before it started the machine
      await waitFor(actor, (x) => x.status === 'done', { timeout: Infinity });
    }
    this.outage.close();
    // a start that failed leaves (deregisters, closes its connections) after its machine ended:
    // the stop returns once it has
    if (actor.getSnapshot().matches('failed')) await this.started;
  }

  /**
   * A claimed task's machine has started: from now on it is heartbeated and ended by us. An old
   * claim of its id still here (its END on its way: a retry's END carries the next claim of its
   * id) is kept aside until its machine releases it.
   */
  private adopt(id: string, lease: string): LocalTask | undefined {
    const t = this.pending.get(id);
    if (t?.lease !== lease) return undefined;
    this.pending.delete(id);
    const old = this.tasks.get(id);
    if (old) this.replaced.set(claimKey(id, old.lease), old);
    this.tasks.set(id, t);
    this.log.debug(`task ${quote(id)} (${t.entry.function}) started, attempt ${t.attempt}`);
    // heard before this worker held the task, since its claim's request left: in the order heard
    for (const message of this.early.take(t.part, id, t.claimSentAt ?? Infinity)) this.hearControl(t, message, (e) => this.actor?.send(e));
    return t;
  }

  /** Redis refused the control subscription to our ACL user (`e`, NOPERM): what to grant */
  private controlDenied(patterns: string[], e: Error): PermissionError {
    const user = this.config.redis.username ?? 'default';
    return new PermissionError(
      `Redis refused the worker's control subscription (PSUBSCRIBE ${patterns.join(' ')}) to ACL user "${user}": ${e.message.split('\n')[0]}. ` +
        `Give that user the channel pattern${patterns.length > 1 ? 's' : ''} ${patterns.map((p) => `&${p}`).join(' ')} and +psubscribe, as aclRule('worker', ...) makes them (acl/README.md); ` +
        'without them it hears no stop, so it claims no task',
      { cause: e },
    );
  }

  /** a control message for task `t`, held here: the machine's CONTROL (sent with `send`), or the runtime's to answer */
  private hearControl(t: LocalTask, message: string, send: (e: WorkerEvent) => void): void {
    // someone watches the task's machine: the runtime's to answer, not the machine's
    if (message.trim() === WATCH_CONTROL) {
      const m = this.taskMachines?.get(t.id);
      if (m) this.stateWatches.watch(m);
      return;
    }
    try {
      send({ type: 'CONTROL', id: t.id, ...parseControl(message) });
    } catch (e) {
      const msg = (e as Error).message;
      this.log.warn(`task ${quote(t.id)}: ignored control message: ${msg}`);
      this.publish(t, 'control-error', { message: msg });
    }
  }

  /** the record of claim `lease` of task `id`: the one running it, or an old claim's kept aside */
  private localOf(id: string, lease: string): LocalTask | undefined {
    const t = this.tasks.get(id);
    return t?.lease === lease ? t : this.replaced.get(claimKey(id, lease));
  }

  /**
   * A function whose queue Redis refused to claim from (a key damaged by hand): logged as an
   * error at most every REFUSAL_LOG_MS per message, as every claim of this worker meets it.
   */
  private sayRefused(message: string): void {
    const now = Date.now();
    const last = this.refusalsLogged.get(message);
    if (last !== undefined && now - last < REFUSAL_LOG_MS) return;
    // (bounded: the messages name functions and Redis's words, few, but never kept without end)
    if (this.refusalsLogged.size >= 100) this.refusalsLogged.clear();
    this.refusalsLogged.set(message, now);
    this.log.error(message);
  }

  /**
   * what claim.lua returned: the tasks wait in `pending` until their task machine adopts them. A
   * task the runtime cannot take (its entry does not read as the script read it) is parked
   * alone (park-claimed.lua), so it can never strand the tasks claimed with it.
   */
  private async take({ claimed, parked, now }: ClaimResult, aborted: () => boolean, part: WorkerPartition, sentAt: number, epoch: string): Promise<{ tasks: ClaimedTask[] }> {
    const { log } = this;
    const keys = part.keys;
    part.refused = false;
    // (escaped all the same: a message is what a script wrote, and may hold what an entry held)
    for (const p of parked) {
      if (p.reason === 'refused') {
        part.refused = true;
        this.sayRefused(escapeControls(p.message));
      } else log.error(`queue entry parked in the dead-letter store (${p.reason}): ${escapeControls(p.message)}`);
    }
    part.stalled = part.refused && claimed.length === 0;
    // The epoch the claim ran under, which its tasks' vanished hashes are judged by (reassert.lua).
    // Not the partition's when the answer came: a claim that ran before Redis lost its data,
    // answered after a heartbeat saw the loss, took the new one, and its hash, lost with the
    // data, read as cleaned up: told lost, dropped, the task nowhere
    // (test/reassert-claim-before-loss.test.ts). Nor always the one when its request left: an
    // idle worker's wait is sent long before its claim runs, perhaps after the loss
    // (test/heartbeat-claim-during-reassert-epoch.test.ts). Moved meanwhile, the new epoch is the
    // Redis time it was made (renew.lua, register.lua), and the claim's `now` says which side of
    // it the claim ran. (Redis lost its data and no heartbeat said so yet: the old one, as before;
    // the task's first heartbeat that finds its hash gives it the new one.)
    const claimedUnder = epoch === part.epoch || !(now >= Number(part.epoch)) ? epoch : part.epoch;
    if (claimed.length && aborted()) {
      // The machine moved on (stop, Redis lost) while the claim ran: give the tasks straight back.
      try {
        this.telemetry.requeued('aborted_claim', (await handBack(this.redis, keys, claimed)).length);
      } catch (e) {
        log.warn(`could not hand back ${claimed.length} task(s) claimed as the worker stopped waiting (the monitor will requeue them): ${(e as Error).message}`);
      }
      return { tasks: [] };
    }
    const tasks: ClaimedTask[] = [];
    const unrunnable: Unrunnable[] = [];
    for (const c of claimed) {
      let entry: TaskEntry;
      try {
        entry = parseEntry(c.raw);
        if (entry.id !== c.id) throw new Error(`its id reads as "${entry.id}" here, "${c.id}" in Redis`);
        if (!this.functions.has(entry.function)) throw new Error(`function "${entry.function}" is not registered here`);
      } catch (e) {
        unrunnable.push({ id: c.id, lease: c.lease, reason: 'unrunnable', message: `task ${quote(c.id)} was claimed but cannot start: ${(e as Error).message}` });
        continue;
      }
      if (this.parts.length > 1 && partitionOf(c.id, this.parts.length) !== part.index) {
        // pushed by hand onto another partition's queue: it runs, but clients look for it by its
        // id in its own partition (get, wait, cancel, control find nothing there)
        log.warn(`task ${quote(c.id)} was queued in partition ${part.index}, but its id belongs to partition ${partitionOf(c.id, this.parts.length)}: it runs, but clients will not find it by id (push an entry onto the queue of its id's partition: docs/deployments.md, partitions)`);
      }
      // (every field at once, the ones its run sets later too: its reads, on every task, then see
      // one shape; machines/every-field.ts)
      const local: EveryField<LocalTask> = {
        id: c.id,
        raw: c.raw,
        entry,
        attempt: c.attempt,
        lease: c.lease,
        start: now,
        claimedAt: performance.now(),
        claimSentAt: sentAt,
        controller: undefined,
        settled: undefined,
        resultJson: undefined,
        timeout: undefined,
        listeners: undefined,
        listening: undefined,
        held: undefined,
        lateCallTold: undefined,
        endedHere: undefined,
        toldStop: undefined,
        emitted: undefined,
        part: part.index,
        epoch: claimedUnder,
      };
      this.pending.set(c.id, local);
      this.telemetry.claimed(local, now);
      tasks.push({ id: c.id, attempt: c.attempt, attempts: attemptsOf(entry), lease: c.lease });
    }
    if (unrunnable.length) {
      for (const u of unrunnable) log.error(u.message);
      parkClaimed(this.redis, keys, this.address, unrunnable).catch((e: Error) =>
        log.warn(`could not park ${unrunnable.length} task(s) that cannot start (the monitor will requeue them): ${e.message}`),
      );
    }
    const age = tasks.length ? this.claimAge(part, now, sentAt) : 0;
    if (age > this.lateClaim()) return this.backIfLeft(await this.confirmLate(part, tasks, age), aborted);
    return { tasks };
  }

  /**
   * tasks taken across an await, in which the effect that claimed them may have been left (a
   * stop, Redis lost, the control subscription lost): its output goes nowhere, and they would
   * stay in `pending`, RUNNING in Redis under a lease no heartbeat renews and nothing hands
   * back (a capped function's room held by them for good); handed back if it was
   */
  private async backIfLeft(tasks: ClaimedTask[], aborted: () => boolean): Promise<{ tasks: ClaimedTask[] }> {
    if (!tasks.length || !aborted()) return { tasks };
    await this.handBackClaimed(tasks);
    return { tasks: [] };
  }

  /**
   * How old (ms) the claim Redis ran at `now` (its clock) is, its request having left at
   * `sentAt`: Redis's time now, read from the partition's last heartbeat, less `now` (no more
   * than the time since the request left), on the monotonic clock; or on the wall clock, when it
   * says more (the monotonic clock does not count a host suspended). Read high rather than low.
   * About a round trip, but for a reply read late: a process frozen (SIGSTOP, a host or VM
   * suspended) or an event loop blocked while Redis ran its claim. (A worker's wait is sent with
   * its claim in one write, which Redis runs when a task arrives, the worker frozen or not.)
   */
  private claimAge(part: WorkerPartition, now: number, sentAt: number): number {
    const at = performance.now();
    const since = at - sentAt;
    const c = part.clock;
    if (!c) return since;
    return Math.max(Math.min(since, c.now + (at - c.sentAt) - now), c.now + (Date.now() - c.wall) - now);
  }

  /**
   * How old (ms) a claim read here may be before its tasks are asked of Redis first: half the
   * monitors' taskTimeout (they take a lease that old for dead), and no more than two
   * heartbeats (a process that froze may not have heard the monitors' taskTimeout: it was
   * frozen as they started; and a reply read that late means its heartbeats were late too).
   */
  private lateClaim(): number {
    return Math.min(2 * this.config.heartbeatInterval, (this.taskTimeoutHeard ?? MONITOR_FIELDS.taskTimeout.default) / 2);
  }

  /**
   * Claimed tasks whose claim is so old a monitor may have requeued them as a dead worker's
   * (`lateClaim`), asked of Redis before they start: those whose lease is no longer ours (requeued, claimed elsewhere, ended
   * by a stop) do not start here, where they would run beside their next attempt, or after
   * their stop. The others' leases are renewed by the asking. Redis not answering, they start,
   * and the heartbeat judges them as it judges every task.
   */
  private async confirmLate(part: WorkerPartition, tasks: ClaimedTask[], age: number): Promise<ClaimedTask[]> {
    let lost: string[];
    try {
      lost = (await renewLeases(this.redis, part.keys, this.address, tasks, this.config.heartbeatInterval, this.owner)).lost;
    } catch (e) {
      this.log.debug(`could not ask Redis of ${tasks.length} task(s) claimed ${Math.round(age)} ms ago: they start (${(e as Error).message})`);
      return tasks;
    }
    const gone = tasks.filter((t) => lost.includes(t.id));
    if (gone.length === 0) return tasks;
    for (const g of gone) {
      const t = this.pending.get(g.id);
      if (t?.lease !== g.lease) continue;
      this.pending.delete(g.id);
      this.telemetry.handedBack(t);
    }
    this.log.warn(
      `${gone.length} task(s) claimed here ${Math.round(age)} ms before this worker read the reply (its process frozen, or its event loop blocked) ` +
        `were no longer its to run (requeued as a dead worker's, or stopped): not started: ${gone.map((t) => quote(t.id)).join(', ')}`,
    );
    return tasks.filter((t) => !gone.includes(t));
  }

  /** what claims across partitions took: each partition's claim, taken (in `take`) */
  private async takeAll(replies: PartClaim[], aborted: () => boolean): Promise<{ tasks: ClaimedTask[] }> {
    if (replies.length === 1) return this.take(replies[0]!.reply, aborted, replies[0]!.part, replies[0]!.sentAt, replies[0]!.epoch);
    const tasks: ClaimedTask[] = [];
    for (const r of replies) tasks.push(...(await this.take(r.reply, aborted, r.part, r.sentAt, r.epoch)).tasks);
    return this.backIfLeft(tasks, aborted);
  }

  /**
   * a claim's answer, to the machine; one that has stopped runs nothing more: its tasks go back.
   * Two answers with tasks read in one turn (Redis ran both lanes' claims in one of its turns and
   * wrote both replies at once) are taken a turn apart: the first lane's tasks run, and their
   * ENDs and that lane's next claim leave, before the second lane's tasks start. Taken in one
   * turn, both lanes' ENDs would leave in one batch and both next claims together, and the lanes,
   * there to take turns with Redis, would move as one from then on, each side idle while the
   * other works (docs/task-actors.md). Resolves once the machine has it (a claim is on its way
   * until then: a stop waits for it, and so a stopping worker's handing back).
   */
  private answer(e: Extract<WorkerEvent, { type: 'CLAIMED' | 'CLAIM_FAILED' }>): Promise<void> | void {
    if (e.type === 'CLAIMED' && e.tasks.length) {
      if (this.answeredThisTurn) return new Promise((resolve) => setImmediate(() => resolve(this.answer(e))));
      this.answeredThisTurn = true;
      setImmediate(() => (this.answeredThisTurn = false));
    }
    if (this.actor?.getSnapshot().status === 'active') this.actor.send(e);
    else if (e.type === 'CLAIMED') void this.handBackClaimed(e.tasks);
  }

  /** claimed tasks that will not run here (the machine moved on while their claim ran): straight back to the queue */
  private handBackClaimed(tasks: ClaimedTask[]): Promise<unknown> {
    const byPart = new Map<WorkerPartition, HeldLease[]>();
    for (const c of tasks) {
      const t = this.pending.get(c.id);
      if (t?.lease !== c.lease) continue;
      this.pending.delete(c.id);
      this.telemetry.handedBack(t);
      const part = this.parts[t.part]!;
      const held = byPart.get(part);
      if (held) held.push({ id: c.id, lease: c.lease });
      else byPart.set(part, [{ id: c.id, lease: c.lease }]);
    }
    return Promise.all(
      [...byPart].map(([part, held]) =>
        handBack(this.redis, part.keys, held).then(
          (back) => this.telemetry.requeued('aborted_claim', back.length),
          (e: Error) => this.log.warn(`could not hand back ${held.length} task(s) claimed as the worker stopped claiming (the monitor will requeue them): ${e.message}`),
        ),
      ),
    );
  }

  /** Hand back what the claims whose replies never came took (claim-recover.lua), in each partition. */
  private async recoverClaims(): Promise<void> {
    for (const part of this.parts) await this.recoverClaimsIn(part);
  }

  private async recoverClaimsIn(part: WorkerPartition): Promise<void> {
    const tokens = part.ledger.toRecover;
    if (tokens.length === 0) return;
    const back = await recoverClaims(this.redis, part.keys, this.address, tokens);
    part.ledger.recovered(tokens);
    this.telemetry.requeued('lost_reply', back.length);
    // (an idle worker's wait always has a claim on its way, cut by every outage: one that took
    // nothing is no news, and said at WARN by every idle worker after each outage, it read as one)
    if (back.length === 0) this.log.debug(`${tokens.length} claim(s) whose replies were lost took nothing`);
    else this.log.warn(`recovered ${tokens.length} claim(s) whose replies were lost; ${back.length} task(s) they took went back to the queue: ${back.map(quote).join(', ')}`);
  }

  /**
   * A claim request for `max` tasks, named by the ledger: each function with the room it has (a
   * function capped by addTaskFunction's `concurrency` has what its cap leaves), the list rotated
   * from one claim to the next.
   */
  private claimRequest(max: number, part: WorkerPartition, taken?: Map<string, number>, own?: Map<string, number>): ClaimRequest {
    const request = part.ledger.request({ worker: this.address, max, maxPayloadBytes: this.config.maxPayloadBytes, functions: this.functionRooms(max, taken, own), rotation: this.rotation++, countWorkers: this.countsWorkers, db: this.config.redis.db });
    if (own) for (const f of request.functions) if (this.caps.has(f.name)) own.set(f.name, (own.get(f.name) ?? 0) + f.room);
    return request;
  }

  /**
   * each function with the room it has in `max` (a function capped here: what its cap leaves);
   * `taken`: per function, what claims not yet in `pending` took (a claim across partitions)
   */
  private functionRooms(max: number, taken?: Map<string, number>, own?: Map<string, number>): ClaimRequest['functions'] {
    // no function capped: every one has the whole room, and the list is the same claim after claim
    if (this.caps.size === 0) {
      if (max <= 0) return [];
      if (this.rooms?.max !== max) this.rooms = { max, functions: [...this.functions.keys()].map((name) => ({ name, room: max })) };
      return this.rooms.functions;
    }
    const running = new Map(taken);
    for (const hold of this.asked) if (hold !== own) for (const [name, n] of hold) running.set(name, (running.get(name) ?? 0) + n);
    for (const t of [...this.tasks.values(), ...this.pending.values()]) if (!t.settled) running.set(t.entry.function, (running.get(t.entry.function) ?? 0) + 1);
    const functions: ClaimRequest['functions'] = [];
    for (const name of this.functions.keys()) {
      const cap = this.caps.get(name);
      const room = cap === undefined ? max : Math.min(max, cap - (running.get(name) ?? 0));
      if (room > 0) functions.push({ name, room });
    }
    return functions;
  }

  /**
   * what a claim answered of when something held back may be claimable (the next wait ends
   * then), and, counted, of the swarm's workers: the machine hears when it comes to be alone in
   * the swarm, or no longer (its lanes, `loneLane`)
   */
  private noteReply(reply: ClaimReply): ClaimReply {
    this.wakeIn = reply.wakeAt > 0 ? Math.max(1, reply.wakeAt - reply.now) : undefined;
    if (reply.workers >= 0 && reply.workers <= 1 !== this.alone) {
      this.alone = reply.workers <= 1;
      if (this.actor?.getSnapshot().status === 'active') this.actor.send({ type: 'SWARM_SIZE', workers: reply.workers });
    }
    return reply;
  }

  /** an ordinary claim on the command connection (nothing to claim: no round trip) */
  private async claimNow(max: number, own?: Map<string, number>): Promise<PartClaim[]> {
    const sentAt = performance.now();
    if (this.parts.length === 1) {
      const part = this.parts[0]!;
      const epoch = part.epoch;
      return [{ part, reply: await this.claimIn(part, max, undefined, own), sentAt, epoch }];
    }
    // Several partitions: from the next one in turn, each for what the ones before left, so
    // that none starves (each claim starts one further on).
    const n = this.parts.length;
    const first = this.partRotation++ % n;
    const out: PartClaim[] = [];
    let left = max;
    let wakeAt = -1;
    // what the partitions before took, per function: not in `pending` until taken, yet it fills
    // the caps of addTaskFunction's `concurrency` for the partitions after
    const taken = this.caps.size ? new Map<string, number>() : undefined;
    // A partition whose claim fails (its primary down, its reply lost) must not strand what the
    // others took: their replies came, so nothing would hand those tasks back but the monitor's
    // timeout. They are run; the claim fails only when it took nothing, and then recovering
    // hands back what a claim of unknown outcome took. One that took something leaves its
    // failed partitions' claims to recover now, aside.
    const failed: { part: WorkerPartition; error: unknown }[] = [];
    for (let i = 0; i < n && left > 0; i++) {
      const part = this.parts[(first + i) % n]!;
      // each partition's request leaves after the one before has answered: the control messages
      // its tasks may get are those heard since its own request left (src/early-control.ts)
      const partSentAt = performance.now();
      const epoch = part.epoch;
      let reply: ClaimReply;
      try {
        reply = await this.claimIn(part, left, taken, own);
      } catch (error) {
        failed.push({ part, error });
        continue;
      }
      if (reply.wakeAt > 0) wakeAt = wakeAt < 0 ? reply.wakeAt : Math.min(wakeAt, reply.wakeAt);
      left -= reply.claimed.length;
      out.push({ part, reply, sentAt: partSentAt, epoch });
      for (const c of taken ? reply.claimed : []) {
        const fn = functionOfEntry(c.raw);
        if (fn !== undefined) taken!.set(fn, (taken!.get(fn) ?? 0) + 1);
      }
    }
    if (failed.length) {
      if (!out.some((r) => r.reply.claimed.length > 0)) throw failed[0]!.error;
      for (const f of failed) {
        this.log.warn(`claim in partition ${f.part.index} failed (the tasks claimed in the others run): ${(f.error as Error).message}`);
        this.recoverClaimsIn(f.part).catch((e: Error) => this.log.debug(`recovering claims in partition ${f.part.index}: ${e.message}`));
      }
    }
    // the wake of the soonest rate-limited work, in any partition
    const last = out.at(-1)!.reply;
    this.noteReply({ ...last, wakeAt });
    return out;
  }

  /** a claim in one partition */
  private claimIn(part: WorkerPartition, max: number, taken?: Map<string, number>, own?: Map<string, number>): Promise<ClaimReply> {
    const request = this.claimRequest(max, part, taken, own);
    if (max <= 0 || request.functions.length === 0) {
      part.ledger.unsent(request);
      return Promise.resolve(NO_CLAIM());
    }
    // the ENDs going out now, whose slots this claim fills, go in its script (finish-claim.lua)
    const ends = part.ends.takeOutgoing();
    let reply: Promise<ClaimReply>;
    if (ends) {
      const both = finishAndClaim(this.redis, part.keys, ends.endings, request);
      ends.carriedBy(both);
      reply = both;
    } else reply = claim(this.redis, part.keys, request);
    return part.ledger.track(request, reply).then((r) => this.noteReply(r));
  }

  /** resolves after `ms`, or as soon as the wait `w` is roused, or when the effect is aborted */
  private waitForFunction(ms: number, effect: Stoppable, w: NonNullable<Worker['wait']>): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        offAbort();
        resolve();
      };
      const timer = setTimeout(done, ms);
      const offAbort = effect.onAbort(done);
      w.end = done;
    });
  }

  /** what it says of itself in Redis: the functions it serves, the largest entry it takes */
  private announced(): Announced {
    return { functions: [...this.functions.keys()], maxPayloadBytes: this.config.maxPayloadBytes };
  }

  /**
   * End the wait under way, when one of `functions` is one its request held back by its cap here
   * (a task of it settled: its slot is free), or always (no `functions`: a function was added).
   */
  private rouse(functions?: string[]): void {
    const w = this.wait;
    if (!w || w.roused || (functions && !functions.some((f) => w.held.has(f)))) return;
    w.roused = true;
    w.end?.();
  }

  /** the capped functions whose room in a claim of `max` is cut by their tasks running here */
  private heldByCaps(max: number, functions: ClaimRequest['functions']): Set<string> {
    const held = new Set<string>();
    for (const [name, cap] of this.caps) {
      const room = functions.find((f) => f.name === name)?.room ?? 0;
      if (room < Math.min(max, cap)) held.add(name);
    }
    return held;
  }

  /**
   * An idle worker's wait when the swarm has several partitions: it blocks on every partition's
   * queue at once (a connection each: one blocking command cannot span slots), without claiming;
   * the first to wake (an entry arrived, or the poll's time is up) ends the others, and the
   * worker claims across the partitions. Nothing is claimed while blocked, so a wait given up
   * strands nothing.
   */
  private async waitPartitioned(free: number, effect: Stoppable): Promise<{ tasks: ClaimedTask[] }> {
    const { config } = this;
    const functions = this.functionRooms(free);
    const w: NonNullable<Worker['wait']> = { held: this.heldByCaps(free, functions), roused: false };
    this.wait = w;
    try {
      if (functions.length === 0 || free <= 0) {
        // nothing to claim: blocking on a non-empty queue would return at once, and spin
        await this.waitForFunction(config.fetchTaskInterval, effect, w);
      } else {
        // the poll, or sooner when something held back by a rate limit will be claimable
        const wait = Math.min(config.fetchTaskInterval, this.wakeIn ?? Infinity);
        const blocked = new Map<WorkerPartition, number>();
        let over = false;
        const unblock = (part: WorkerPartition, id: number) => void atKey(this.redis, part.keys.newQueue, 'CLIENT', 'UNBLOCK', id).catch(() => {});
        const endAll = () => {
          over = true;
          for (const [part, id] of blocked) unblock(part, id);
          blocked.clear();
        };
        // A partition stalled, its block returns at once (see WorkerPartition.stalled): it is
        // claimed from at the poll, the others' blocks waited on meanwhile. Slept for the poll
        // only when every one is: the others' tasks, held up, waited a poll each.
        const open = this.parts.filter((part) => !part.stalled);
        if (open.length === 0) {
          await this.waitForFunction(wait, effect, w);
          if (effect.aborted()) return { tasks: [] };
        }
        w.end = endAll;
        const offAbort = effect.onAbort(endAll);
        try {
          const names = functions.map((f) => f.name);
          const sentAt = performance.now();
          const waits = (open.length ? open : this.parts).map((part) => {
            const conn = this.partWait(part);
            const forget = () => this.partWaits.get(part.index) === conn && this.partWaits.delete(part.index);
            return this.answeredWithin(
              conn,
              wait,
              sentAt,
              part,
              forget,
              waitForWork(conn, part.keys, wait, part.refused ? [] : names, (id) => {
                if (over) unblock(part, id);
                else blocked.set(part, id);
              }),
            );
          });
          // the first to end, ends the others
          await Promise.race(waits.map((p) => p.then(endAll, endAll)));
          const settled = await Promise.allSettled(waits);
          const failed = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
          if (failed.length === settled.length && !effect.aborted()) throw failed[0]!.reason;
        } finally {
          offAbort();
        }
      }
    } finally {
      if (this.wait === w) this.wait = undefined;
    }
    if (effect.aborted()) return { tasks: [] };
    // (on its way until taken or handed back: a worker leaving waits for it, see `deregister`)
    return this.onItsWay(this.claimNow(free).then((replies) => this.takeAll(replies, effect.aborted)));
  }

  /**
   * `p`, a blocking wait of `waitMs` sent on `conn` at `sentAt` in partition `part`, failed when
   * it has no answer a command's timeout past its own: its connection is dropped (`forget` lets
   * the next wait make a new one) and the wait fails, so its claim is recovered (a claim Redis
   * ran, or runs later, is handed back) and the worker waits again. A connection that goes
   * silent while the others answer (a proxy, a NAT or a firewall that dropped it without a
   * word) held an idle worker in its wait for good, taking nothing, with no line said: its
   * heartbeats passed. Said at WARN when a heartbeat sent after the wait was answered; else
   * Redis is out of reach, which the outage lines say.
   */
  private answeredWithin<T>(conn: Connection, waitMs: number, sentAt: number, part: WorkerPartition, forget: () => unknown, p: Promise<T>): Promise<T> {
    const ms = waitMs + redisCommandTimeout(this.config.heartbeatInterval);
    let timer: NodeJS.Timeout | undefined;
    let answered = false;
    const late = new Promise<never>((_, reject) => {
      // (judged after the I/O of this turn of the event loop: held by a function that blocked it,
      // the timer comes due before the reply that waits in the socket is read)
      timer = setTimeout(() => setImmediate(() => answered || fail()), ms);
      const fail = () => {
        forget();
        conn.disconnect();
        // (a heartbeat sent after the wait should have come back, answered: Redis answers, this
        // connection does not; one sent before says nothing of a Redis that went silent since.
        // Redis ends a block's timeout at its next cron tick, up to 100 ms late at its default hz)
        const answering = part.clock !== undefined && part.clock.sentAt > sentAt + waitMs + BLOCK_END_SLACK_MS;
        const e = new Error(`the wait for a task had no answer in ${ms} ms${answering ? ", while Redis answered this worker's heartbeats: its connection (dropped by a proxy, a NAT or a firewall?) is made again" : ''}`);
        reject(answering ? e : outOfReach(e));
      };
    });
    return Promise.race([p.finally(() => (answered = true)), late]).finally(() => clearTimeout(timer));
  }

  /** a claim on its way (`claiming`) until `p` settles */
  private onItsWay<T>(p: Promise<T>): Promise<T> {
    const settled: Promise<unknown> = p.finally(() => this.claiming.delete(settled)).catch(() => {});
    this.claiming.add(settled);
    return p;
  }

  /** partition `part`'s blocking connection (several partitions: one each) */
  private partWait(part: WorkerPartition): Connection {
    let conn = this.partWaits.get(part.index);
    if (!conn) {
      conn = connect(this.config.redis, 'blocking', `${this.owner}/p${part.index}`);
      conn.on('error', (e: Error) => this.log.debug(`redis (blocking, partition ${part.index}): ${e.message}`));
      this.partWaits.set(part.index, conn);
    }
    return conn;
  }

  /**
   * The tasks the stop's hand-back left (Redis did not answer it when stopGrace ended; they are
   * halted meanwhile, and leave `tasks`): handed back once Redis answers, each re-asserted first
   * when Redis lost it (restarted empty). Tried until `deadline` (the halt's abortTimeout, so
   * that the stop waits no longer for it than for the halt); an attempt begun is let finish
   * (bounded by its commands' timeouts): one cut between its re-assert and its hand-back left a
   * task RUNNING under this worker's lease. What is left then waits in Redis for a monitor, or,
   * lost with Redis's data, is nowhere; said so.
   */
  private async handBackLeft(left: (RememberedTask & { part: number })[], deadline: number): Promise<void> {
    const { heartbeatInterval, abortTimeout } = this.config;
    // (what the last try met: a Redis that answered and refused, at its maxmemory, is not one that is silent)
    let refused: string | undefined;
    for (let first = true; ; first = false) {
      const each = await Promise.all(
        this.parts.map(async (part) => {
          const mine = left.filter((t) => t.part === part.index);
          if (!mine.length) return { part: part.index, back: [] as string[] };
          // (undefined: refused, or no answer. A try waits for its renew's answer until the
          // deadline only, the first at least a second (abortTimeout 0 would try nothing), and
          // once it has answered goes to its end.)
          const renewFor = Math.max(first ? 1000 : 0, deadline - performance.now());
          const back = await handBackRemembered(this.redis, part.keys, this.address, mine, heartbeatInterval, this.owner, renewFor).catch((e: unknown) => {
            refused = e instanceof ReplyError ? refusalText(e) : undefined;
            return undefined;
          });
          return { part: part.index, back };
        }),
      );
      const back = each.flatMap((e) => e.back ?? []);
      this.telemetry.requeued('stop_grace', back.length);
      if (back.length) this.log.warn(`Redis answers again: handed ${back.length} task(s) back to the queue: ${back.join(', ')}`);
      const unanswered = new Set(each.filter((e) => e.back === undefined).map((e) => e.part));
      left = left.filter((t) => unanswered.has(t.part));
      if (!left.length) return;
      if (performance.now() + 200 >= deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    this.log.error(
      `could not hand back ${left.length} task(s) within abortTimeout (${abortTimeout} ms), Redis ${refused === undefined ? 'not answering' : `refusing (${refused})`}: a monitor requeues them if Redis kept its data: ${left.map((t) => quote(t.id)).join(', ')}`,
    );
  }

  /**
   * the leases held here (of `ids`, in partition `part`, when given): the tasks', and those of
   * the tasks a stop halted whose records have left them, until the stop hands them back (a
   * halted function that returned at once waits for the others; its lease unrenewed meanwhile,
   * a monitor took it for a dead worker's task when abortTimeout exceeded its taskTimeout:
   * requeued as a death, parked with maxAttempts 1, not handed back)
   */
  private held(ids?: string[], part?: number): HeldLease[] {
    const out: HeldLease[] = [];
    const wanted = (t: LocalTask) => (!ids || ids.includes(t.id)) && (part === undefined || t.part === part);
    for (const t of this.tasks.values()) if (wanted(t)) out.push({ id: t.id, lease: t.lease });
    for (const t of this.keptForHandBack.values()) if (!this.tasks.has(t.id) && wanted(t)) out.push({ id: t.id, lease: t.lease });
    return out;
  }

  /**
   * Renew every lease; re-assert tasks whose hash vanished; returns ids we lost. One at a time:
   * a heartbeat, task.update() and reconcile that overlap share the renew under way, so two can
   * never judge the same vanished hash (the second would find the first's re-assertion and take
   * it for someone else's claim) nor move the epoch under each other.
   */
  private renewAll(): Promise<string[]> {
    this.renewing ??= this.renewOnce().finally(() => (this.renewing = undefined));
    return this.renewing;
  }

  private async renewOnce(): Promise<string[]> {
    this.telemetry.renewing(this.tasks.values());
    let lost: LocalTask[];
    if (this.parts.length === 1) lost = await this.renewIn(this.parts[0]!, this.held());
    // every partition, each with its own leases (one with none still says this worker lives)
    else lost = (await Promise.all(this.parts.map((part) => this.renewIn(part, this.held(undefined, part.index))))).flat();
    this.telemetry.renewed();
    // (read again once every partition has answered: one that answered first waited for the
    // others, and a task it found lost may have been claimed here again meanwhile, whose new
    // claim the id would abort)
    return lost.flatMap((t) => (this.tasks.get(t.id) === t ? [t.id] : []));
  }

  /** renew the leases `held` in partition `part`: the claims among them found lost */
  private async renewIn(part: WorkerPartition, held: HeldLease[]): Promise<LocalTask[]> {
    const sent = performance.now();
    const wall = Date.now();
    const r = await renewLeases(this.redis, part.keys, this.address, held, this.config.heartbeatInterval, this.owner);
    this.telemetry.renewCall(performance.now() - sent);
    if (!(part.clock && part.clock.sentAt > sent)) part.clock = { now: r.now, sentAt: sent, wall };
    this.heardTaskTimeout(r.taskTimeout);
    if (part.index === 0) this.heardSwarmSize(r.workers);
    // (a process whose entry moves forward heartbeats there too; one that stands still is gone:
    // src/address-owners.ts)
    const owners = part.owners.read(r.others, r.now);
    for (const other of owners.moved) this.heardTwin(other);
    part.othersGone = owners.gone;
    // An answer is about the lease renewed: a task claimed here again since (its old copy's
    // lease was lost, its new claim holds another) is not lost, nor is its new copy's hash missing.
    const renewed = new Map(held.map((h) => [h.id, h.lease]));
    const current = (id: string) => {
      const t = this.tasks.get(id);
      return t && t.lease === renewed.get(id) ? t : undefined;
    };
    const lost = r.lost.filter((id) => current(id));
    // cancelled while running: its stop was published, and is sent here again in case it reached
    // no one (a stop to a task already stopping changes nothing)
    for (const id of r.cancelled) if (current(id)) this.actor?.send({ type: 'CONTROL', id, command: 'stop' });
    if (part.epoch !== '' && r.epoch !== part.epoch) {
      // Redis lost its data there, and with it perhaps the swarm's partition count: written
      // again, so that a component of another count starting now is still refused
      checkLayout(this.redis, this.layoutKey, this.parts.length).catch((e: Error) => this.log.error(`after Redis lost its data: ${e.message}`));
    }
    // (before the re-assertions' waits: a claim sent meanwhile runs under this epoch, and its
    // tasks take it, `take`; given the old one, a hash of theirs cleaned up since was taken for
    // lost data and brought back)
    part.epoch = r.epoch;
    // Each hash is judged against the epoch under which this worker last found it (not the
    // partition's last renew): a renew holds the leases of its start, and one that named only
    // some of them, sent before Redis lost its data and answered by the emptied Redis, has seen
    // the new epoch for the tasks it named alone; the others' hashes were lost all the same.
    for (const id of r.missing) {
      const t = current(id);
      if (!t) continue;
      const ok = await reassert(this.redis, part.keys, this.address, { ...t }, t.epoch);
      if (ok) this.log.warn(`task ${quote(id)}: Redis lost its data; re-asserted the task from memory`);
      else lost.push(id);
    }
    for (const h of held) {
      const t = current(h.id);
      if (t && !lost.includes(h.id)) t.epoch = r.epoch;
    }
    // told to stop here, and Redis does not have the mark under this claim (the call that was
    // to write it failed, or Redis lost the hash and it was re-asserted without it): marked again
    if (held.some((h) => current(h.id)?.toldStop)) {
      const marked = new Set(r.cancelled);
      for (const h of held) {
        const t = current(h.id);
        if (t?.toldStop && !marked.has(h.id) && !lost.includes(h.id)) keepToldStop(this.redis, part.keys, { id: t.id, lease: t.lease }, this.log);
      }
    }
    // (read again after the re-assertions' waits: a task that ended meanwhile, or whose id was
    // claimed here again under another lease, is not the claim this answer was about; told lost,
    // the new claim of the id would be aborted for the old one's lease)
    const still = lost.flatMap((id) => current(id) ?? []);
    this.telemetry.lost('heartbeat', still);
    if (still.length) this.log.warn(`lease lost for ${still.map((t) => t.id).join(', ')}: requeued or claimed elsewhere; abandoning our copy`);
    return still;
  }

  /**
   * The worker set's size, as a heartbeat read it: a worker that knows no peer while others are
   * listed lists them now, not at the next refresh (fetchWorkerInterval). One started beside
   * others lists them before they have registered: cut off in its first seconds, it knew no peer
   * to ask, and kept its tasks running as a lone worker does while the monitors requeued them
   * (test/peers-known-soon.test.ts). Only then: a worker that knows some peers judges a partition
   * by them until its refresh, and a swarm of hundreds whose workers each listed the whole set
   * at every change of its size (autoscaling) read it hundreds of times a second.
   */
  private heardSwarmSize(workers: number): void {
    if (workers <= 1 || this.peers.length > 0 || workers === this.sizeListed || this.listingPeers) return;
    this.sizeListed = workers;
    this.listingPeers = this.readPeers()
      .catch((e: unknown) => {
        // (read again at the next heartbeat)
        this.sizeListed = undefined;
        this.log.debug(`worker list refresh failed: ${(e as Error).message}`);
      })
      .finally(() => (this.listingPeers = undefined));
  }

  /** the workers listed in Redis, this one left out: the peers an outage asks */
  private async readPeers(): Promise<void> {
    this.peers = (await listWorkers(this.redis, this.keys, (m) => this.log.warn(m))).filter((p) => p !== this.address);
  }

  /**
   * The monitors' taskTimeout, as register.lua or renew.lua read it from Redis (the monitors
   * write it at each sweep). A worker's heartbeatInterval is its own setting and the monitors'
   * taskTimeout theirs: one too slow for the other got healthy tasks requeued as dead and run
   * twice, with nothing said. Warned once per value (a monitor restarted with another timeout is
   * checked again), not at every heartbeat.
   */
  private heardTaskTimeout(taskTimeout: number | undefined): void {
    if (taskTimeout === undefined || taskTimeout === this.taskTimeoutHeard) return;
    this.taskTimeoutHeard = taskTimeout;
    const every = this.config.heartbeatInterval;
    if (every * 4 <= taskTimeout) return;
    this.log.warn(
      `heartbeatInterval ${every} ms is more than a quarter of the monitors' taskTimeout (${taskTimeout} ms): ` +
        `a monitor requeues a RUNNING task whose last heartbeat is taskTimeout old, so ${every >= taskTimeout ? 'every task that runs longer than taskTimeout here' : 'a task whose heartbeat is a little late'} ` +
        `is requeued as dead while it runs, and runs twice; set heartbeatInterval to at most ${Math.floor(taskTimeout / 4)} ms, or raise the monitors' taskTimeout`,
    );
  }

  /**
   * Another live process heartbeats under this worker's address (its entry in `workers:owners`
   * moved forward: src/address-owners.ts): hosts
   * behind NAT with the same private address (containers on a default bridge), or one
   * `advertise` given to two. Each takes the other for itself, so neither pings it and partition
   * detection counts one peer short; each drops the other's claim receipts; a stop of either
   * leaves the address to the other. Said once per other process (a twin restarted is a new
   * one), as an error: the fix is configuration, and nothing here can tell which of the two
   * should yield.
   */
  private heardTwin(other: string): void {
    if (this.twinsHeard.has(other)) return;
    // (bounded: a twin restarting in a loop is a new name each time)
    if (this.twinsHeard.size >= 100) this.twinsHeard.clear();
    this.twinsHeard.add(other);
    this.log.error(
      `another worker process (${quote(other)}) heartbeats under this worker's address ${this.address}: the two take each other for themselves, ` +
        `so partition detection counts one peer short and claim receipts are dropped; give each worker an address of its own (advertise, or host and port)`,
    );
  }

  /** a blocking connection no longer used for waits: dropped when its wait ends, or after `ms` */
  private retire(conn: Connection, ms: number, taken: Promise<void>): void {
    const timer = setTimeout(() => this.dropRetired(conn), ms);
    timer.unref();
    this.retiring.set(conn, { timer, taken });
  }

  private dropRetired(conn: Connection): void {
    const r = this.retiring.get(conn);
    if (r === undefined) return;
    clearTimeout(r.timer);
    this.retiring.delete(conn);
    conn.disconnect();
  }

  /**
   * At stop: a wait the worker gave up on may still be blocked in Redis, and a task arriving
   * now would be claimed for a worker about to close that connection, its reply lost (the
   * monitor would requeue it after taskTimeout). End each such wait (CLIENT UNBLOCK), and let
   * what it claimed, if anything, be handed back before the connections close. Bounded by `ms`.
   */
  private async endAbandonedWaits(ms: number): Promise<void> {
    if (!this.retiring.size) return;
    const names = new Set([...this.retiring.keys()].map(connectionName));
    const taken = [...this.retiring.values()].map((r) => r.taken);
    const end = async () => {
      // by client name: a blocked connection answers nothing until its wait ends, not even CLIENT ID
      // (on a Cluster, where the swarm's slot is: the waits block on its keys)
      const clients = (await atKey(this.redis, this.keys.newQueue, 'CLIENT', 'LIST', 'TYPE', 'normal')) as string;
      for (const line of clients.split('\n')) {
        const id = /(?:^| )id=(\d+)/.exec(line)?.[1];
        const name = / name=(\S+)/.exec(line)?.[1];
        if (id && name && names.has(name)) await atKey(this.redis, this.keys.newQueue, 'CLIENT', 'UNBLOCK', id);
      }
      await Promise.allSettled(taken);
    };
    await within(ms, end());
  }

  private blockingConnection(): Connection {
    if (!this.blocking) {
      this.blocking = connect(this.config.redis, 'blocking', `${this.owner}/${++this.blockingMade}`);
      this.blocking.on('error', (e: Error) => this.log.debug(`redis (blocking): ${e.message}`));
    }
    return this.blocking;
  }

  private async closeConnections(): Promise<void> {
    await this.endAbandonedWaits(1000);
    // a silent link answers no QUIT: bounded, then the sockets are closed anyway
    await within(1000, Promise.allSettled([this.redis.quit(), this.sub.quit()]));
    this.stopDeadlines();
    this.redis.disconnect();
    this.sub.disconnect();
    this.blocking?.disconnect();
    this.blocking = undefined;
    for (const conn of this.partWaits.values()) conn.disconnect();
    this.partWaits.clear();
    for (const conn of [...this.retiring.keys()]) this.dropRetired(conn);
    await this.server?.close();
    this.server = undefined;
    await this.telemetry.close();
  }

  /** an event of this claim of the task, fenced by its lease (EventOutbox) */
  private publish(t: LocalTask, event: string, data: unknown): void {
    const part = this.parts[t.part]!;
    const at = Date.now();
    const message = formatEvent(event, data, at);
    t.emitted = (t.emitted ?? 0) + 1;
    part.outbox.publish({ id: t.id, lease: t.lease, channel: part.keys.events(t.id), message, last: lastEventArg(event, message, at), seq: t.emitted });
  }

  /**
   * the machine renews leases now (outside these states a task's update() answers locally: past
   * the stop's grace, what still runs is halted, and its heartbeat holds its lease until it is
   * handed back)
   */
  private get live(): boolean {
    const s = this.actor?.getSnapshot();
    return s !== undefined && (s.matches('connected') || s.matches('draining'));
  }

  /** an END refused now asks a renew before it is given up (TALKING_TO_REDIS) */
  private get confirmsByRenew(): boolean {
    const s = this.actor?.getSnapshot();
    return s !== undefined && TALKING_TO_REDIS.some((v) => s.matches(v));
  }

  /** Redis is lost, or back and not reconciled yet: the machine will reconcile once it answers */
  private get waitingForRedis(): boolean {
    const s = this.actor?.getSnapshot();
    return s !== undefined && AWAITING_REDIS.some((v) => s.matches(v));
  }

  /** `register`: checks the server and the layout, serves peer pings, lists the worker in every partition */
  private async register(signal: AbortSignal): Promise<void> {
    const { config, keys, log } = this;
    try {
      // Redis first: by default peers ping us on the interface that reaches Redis, since
      // they reach that Redis too (127.0.0.1 would send every host's pings to itself).
      const ends = await redisEnds(this.redis, this.layoutKey);
      const checked = await checkServer(this.redis, `Redis at ${redisAddress(config.redis)}`, this.layoutKey);
      if (checked.eviction) log.warn(checked.eviction);
      await checkLayout(this.redis, this.layoutKey, config.redis.partitions);
      const short = await replicaShortfall(this.redis, keys.taskSet, config.redis);
      if (short) log.warn(short);
      const reachable = ends.local ?? '127.0.0.1';
      const onError = (e: Error, n: number) => log.warn(`peer ping server: ${e.message}${n > 1 ? ` (${n} errors since the last report)` : ''}; still serving`);
      const server = await startPeerServer(config.host ?? reachable, config.port, () => this.address, config.secret, onError).catch((e: unknown) => {
        // (its own metrics server, started first on the same port, holds it: say so, not only "in use")
        const clash = e instanceof ListenError && (e.cause as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE' && config.port !== 0 && config.metricsPort === config.port;
        throw clash ? new ListenError(`${e.message}: this worker's own metrics server listens there (metricsPort is ${config.metricsPort} too); give each a port of its own`, e.cause) : e;
      });
      if (signal.aborted) return void (await server.close()); // stopped while starting
      this.server = server;
      this.listenPort = server.port;
      this.advertisedHost = config.host === undefined || isUnspecified(config.host) ? reachable : config.host;
      const own = parseAddress(this.address);
      if (own.ok && isLoopback(own.host) && ends.remote && !isLoopback(ends.remote)) {
        log.warn(
          `peer address ${this.address} is loopback while Redis is reached at ${ends.remote}: peers on other hosts cannot reach this worker, so partition detection will not work across hosts; set host to an address they can reach (or 0.0.0.0), or advertise`,
        );
      }
      // listed in every partition: each partition's monitors judge its workers' liveness
      for (const part of this.parts) {
        if (signal.aborted) return; // stopped while starting: `deregister` undoes what landed
        this.registrationSent = true;
        const r = await registerWorker(this.redis, part.keys, this.address, config.heartbeatInterval, this.announced(), this.owner);
        part.epoch = r.epoch;
        this.heardTaskTimeout(r.taskTimeout);
      }
      this.listed = true;
      if (this.stateToWrite) this.recordState(this.stateToWrite.value);
      await this.readPeers();
    } catch (e) {
      this.startError = unavailable(config.redis, this.redis, e);
      throw this.startError;
    }
  }

  private machine() {
    const { config, keys, log } = this;
    const task = taskMachine.provide({
      actions: taskActions({
        log,
        telemetry: this.telemetry,
        local: (id, lease) => this.localOf(id, lease),
        adopt: (id, lease) => this.adopt(id, lease),
        release: (t) => {
          // (only this claim's: a later claim of the id runs on)
          if (this.tasks.get(t.id) === t) this.tasks.delete(t.id);
          else this.replaced.delete(claimKey(t.id, t.lease));
        },
        // control messages kept for the retry its END might have carried (onMessage): none came
        partOf: (id) => this.partOf(id),
        redis: this.redis,
        fn: (name) => this.functions.get(name),
        // A reload's re-read, with whose the claim is in the same call. Not answered (Redis lost,
        // or silent past a command's timeout), the new run takes the data the worker holds, as
        // for a hash without it: the outage, which the worker's tasks run through, failed the
        // attempt with Redis's error. Another claim's (a reload heard by a worker thawed after
        // its task was requeued and claimed elsewhere, before its heartbeat told it), the copy is
        // given up as a heartbeat gives it up: the reload ran the function again beside the
        // other worker's run. (A hash missing is left to the heartbeat: Redis may have lost it.)
        reread: async (t) => {
          let got: (string | null)[];
          try {
            // (HGETs in a MULTI, one round trip, as a worker's ACL rule grants them: not HMGET)
            const k = this.partOf(t.id).keys.task(t.id);
            const replies = (await readTogether(this.redis, (c) => c.hget(k, 'data').hget(k, 'state').hget(k, 'lease'))) as [Error | null, string | null][];
            got = replies.map(([e, v]) => {
              if (e) throw e;
              return v;
            });
          } catch (e) {
            log.warn(`task ${quote(t.id)}: its reload could not re-read its data (${(e as Error)?.message ?? String(e)}); it runs again on the data it had`);
            return { raw: null };
          }
          const [raw = null, state = null, lease = null] = got;
          if (state === null || (state === 'RUNNING' && lease === t.lease) || this.tasks.get(t.id) !== t) return { raw };
          log.warn(`lease lost for ${quote(t.id)}: its reload found the task ${state === 'RUNNING' ? 'claimed elsewhere' : state}; abandoning our copy`);
          this.actor?.send({ type: 'LEASES_LOST', ids: [t.id] });
          return { raw, gone: true };
        },
        emit: (t, event, data) => {
          // Ended here (a timer or callback the function left behind): Redis would refuse it
          // without a word (its lease is gone), so the word is said here, once a claim. A copy
          // whose lease was lost, or that was given up (its END refused, a halt), did not end
          // here: it is sent on, for emit.lua's fence to count.
          if (t.settled && t.endedHere) {
            if (!t.lateCallTold) log.warn(`task ${quote(t.id)}: emit(${quote(event)}) came after its function returned and the task ended here; the event is dropped (later late calls of this run without a word)`);
            t.lateCallTold = true;
            return;
          }
          this.publish(t, event, data);
        },
        update: async (t, progress) => {
          // An old copy (its claim replaced by a later one of the same id) holds no lease; one
          // whose function returned and whose END is written is over (a timer it left behind)
          if (this.tasks.get(t.id) !== t) {
            const ended = t.settled && t.endedHere;
            // (said, as a late emit is: the refusal may reach no one, see src/task-handle.ts)
            if (ended && !t.lateCallTold) log.warn(`task ${quote(t.id)}: update() came after its function returned and the task ended here; refused with a LeaseLostError (later late calls of this run without a word)`);
            if (ended) t.lateCallTold = true;
            throw new LeaseLostError(t.id, ended ? 'ended' : 'lost');
          }
          if (progress !== undefined) {
            try {
              this.publish(t, 'progress', progress);
            } catch (e) {
              // (its refusal may reach no one: an update nobody awaits is marked handled, see
              // src/task-handle.ts. Said once a claim)
              if (!this.progressRefusedTold.has(t)) log.warn(`task ${quote(t.id)}: update() refused its progress (later ones of this run without a word): ${(e as Error).message}`);
              this.progressRefusedTold.add(t);
              throw e;
            }
          }
          // Redis lost or not reconciled yet: the machine holds the leases; answer here.
          if (!this.live) return;
          let lost: string[];
          try {
            lost = await this.renewAll();
          } catch {
            return; // the heartbeat finds the trouble too, and the machine handles it
          }
          if (lost.length) this.actor?.send({ type: 'LEASES_LOST', ids: lost });
          if (lost.includes(t.id) && this.tasks.get(t.id) === t) throw new LeaseLostError(t.id);
        },
        confirmLease: async (t) => {
          // An old copy (its claim replaced by a later one of the same id) holds no lease.
          if (this.tasks.get(t.id) !== t) return false;
          if (!this.confirmsByRenew) {
            // Redis lost or not reconciled yet: the reconcile re-asserts what Redis lost, then
            // the END is tried again.
            if (this.waitingForRedis) throw new Error('refused, and Redis is not reconciled yet: tried again once it is');
            return false;
          }
          const lost = await this.renewAll();
          if (lost.length) this.actor?.send({ type: 'LEASES_LOST', ids: lost });
          return !lost.includes(t.id) && this.tasks.get(t.id) === t;
        },
      }),
    });

    // the task machines as the worker runs them: compiled, one plain record each (docs/task-actors.md)
    const machines = (this.taskMachines = new TaskMachines(compiled<object>(task), {
      send: (e) => {
        // a task that ends after the worker has (stopped, failed) has no one left to tell
        if (this.actor?.getSnapshot().status === 'active') this.actor.send(e);
      },
      replacedCrashed: (id, error, lease) => {
        // (only its own record: another old claim of the id may still be writing its END)
        const t = lease === undefined ? undefined : this.replaced.get(claimKey(id, lease));
        if (t?.timeout) disarmAttemptTimer(t);
        if (lease !== undefined) this.replaced.delete(claimKey(id, lease));
        log.error(`task ${quote(id)}: the task machine of a replaced claim crashed (a bug in task-swarm)`, error);
      },
    }));

    return workerMachine.provide({
      actors: {
        register: promiseEffect<void>(({ signal }) => {
          const registering = this.register(signal);
          this.registering = registering.catch(() => {});
          return registering;
        }),
        waitForTask: promiseEffect(async ({ input, aborted, onAbort }: EffectArgs<{ free: number }>) => {
          // (what it does when aborted hangs on onAbort and aborted(), not on the effect's
          // AbortSignal: making one is the dearest step of an idle worker's pickup)
          const effect: Stoppable = { aborted, onAbort };
          if (this.parts.length > 1) return this.waitPartitioned(input.free, effect);
          const part = this.parts[0]!;
          const conn = this.blockingConnection();
          // Stopped waiting: the next wait gets a new connection, and this one is dropped once
          // its wait has ended (at most fetchTaskInterval), so that a claim Redis already ran
          // still reaches take(), which hands its tasks back.
          let taken!: () => void;
          const done = new Promise<void>((r) => (taken = r));
          const offAbort = onAbort(() => {
            if (this.blocking === conn) this.blocking = undefined;
            this.retire(conn, config.fetchTaskInterval + 2000, done);
          });
          const request = this.claimRequest(input.free, part);
          const sentAt = performance.now();
          const epoch = part.epoch;
          const w: NonNullable<Worker['wait']> = { held: this.heldByCaps(request.max, request.functions), roused: false };
          this.wait = w;
          try {
            let got: ClaimResult;
            try {
              if (request.functions.length === 0 || input.free <= 0) {
                part.ledger.unsent(request);
                // nothing to claim: blocking on a non-empty queue would return at once, and spin
                await this.waitForFunction(config.fetchTaskInterval, effect, w);
                got = NO_CLAIM();
              } else {
                // the poll, or sooner when something held back by a rate limit will be claimable
                const wait = Math.min(config.fetchTaskInterval, this.wakeIn ?? Infinity);
                const unblock = (id: number) => {
                  w.end = () => void atKey(this.redis, keys.newQueue, 'CLIENT', 'UNBLOCK', id).catch(() => {});
                  if (w.roused) w.end();
                };
                if (part.stalled) await this.waitForFunction(wait, effect, w);
                if (aborted()) {
                  part.ledger.unsent(request);
                  got = NO_CLAIM();
                } else {
                  const waited = this.answeredWithin(conn, wait, sentAt, part, () => this.blocking === conn && (this.blocking = undefined), waitAndClaim(conn, keys, wait, request, unblock, part.refused));
                  got = this.noteReply(await part.ledger.track(request, waited));
                }
              }
            } catch (e) {
              if (!aborted()) throw e;
              return { tasks: [] };
            } finally {
              if (this.wait === w) this.wait = undefined;
              offAbort();
              if (aborted()) this.dropRetired(conn);
            }
            const first = await this.take(got, aborted, part, sentAt, epoch);
            // roused (this worker's own room grew) and nothing claimed: claim for that room now,
            // rather than block again on a queue that has nothing new to wake us
            if (!w.roused || first.tasks.length > 0 || aborted()) return first;
            return await this.takeAll(await this.claimNow(input.free), aborted);
          } finally {
            taken(); // what the wait claimed is running here, or was handed back
          }
        }),
        heartbeat: ticker(
          config.heartbeatInterval,
          async (send) => {
            let lost: string[];
            try {
              lost = await this.renewAll();
            } catch (e) {
              // (ioredis's own words, "Reached the max retries per request limit... Refer to
              // maxRetriesPerRequest", name an option no option of ours sets: said as start() says it)
              const why = (e as Error).name === 'MaxRetriesPerRequestError' ? unavailable(config.redis, this.redis, e) : e;
              this.outage.failed(e);
              this.outage.warn(`heartbeat failed: ${(why as Error).message}`);
              send({ type: 'REDIS_LOST' });
              return;
            }
            if (lost.length) send({ type: 'LEASES_LOST', ids: lost });
          },
          (e) => log.debug(`heartbeat failed: ${(e as Error).message}`),
        ),
        refreshPeers: ticker(
          config.fetchWorkerInterval,
          async () => {
            await this.readPeers();
            // what it serves, listed again (a monitor that pruned it while it was cut off dropped it)
            // (a refresh under way as the worker leaves: nothing more once it deregisters, or it would land after)
            for (const part of this.parts) if (this.listed) await announce(this.redis, part.keys, this.address, this.announced());
          },
          (e) => log.debug(`worker list refresh failed: ${(e as Error).message}`),
        ),
        controlListener: fromCallback<AnyEventObject>(({ sendBack }) => {
          const onMessage = (pattern: string, channel: string, message: string) => {
            // (several partitions: a pattern each, and the task must be one claimed in its partition)
            const part = this.parts.length === 1 ? this.parts[0]! : this.parts.find((p) => p.keys.controlPattern === pattern);
            if (!part) return;
            const id = channel.slice(part.keys.taskKeyPrefix.length, -'-control'.length);
            const t = this.tasks.get(id);
            // not held here: another worker's task, or one whose claim's reply is still on its way
            if (t?.part !== part.index) return this.early.keep(part.index, id, message);
            // Its function has returned: its END is on its way, perhaps with the claim of its
            // retry, which that script may have made RUNNING already (a retry without backoff is
            // claimed again in the script that writes it). Kept too, for that claim, which gets it
            // only if it was heard after the claim's request left.
            if (t.settled) {
              this.early.keep(part.index, id, message);
              // Told to stop once its function returned (its machine takes no STOP now): the
              // task is still RUNNING in Redis under this claim, and is marked, so that the stop
              // holds as one sent through the Client does: a retry's END is not written as a
              // retry (finish.lua), and a worker cut off before its END leaves it cancelled, not
              // to run again. (Else a retry's END resent as Redis came back, after the stop was
              // heard, carried a claim the kept stop could not reach: the next attempt ran.)
              if (isStop(message) && !t.toldStop) {
                t.toldStop = true;
                keepToldStop(this.redis, part.keys, { id, lease: t.lease }, this.log);
              }
            }
            this.hearControl(t, message, sendBack);
          };
          this.sub.on('pmessage', onMessage);
          // Made again each time the connection is ready: ioredis fails a PSUBSCRIBE queued
          // through three reconnects (a subscriber connection refused while the worker starts)
          // and resubscribes only what Redis had answered, so one failure left the worker deaf
          // to stop for its life. A pattern already subscribed is subscribed again harmlessly.
          // Its acknowledgement is what the worker waits for before it claims (CONTROL_READY):
          // Redis runs commands one at a time, so a message published after the PSUBSCRIBE ran
          // reaches us, and a task claimed after it ran becomes RUNNING after it did.
          const patterns = this.parts.map((p) => p.keys.controlPattern);
          let retry: NodeJS.Timeout | undefined;
          let closed = false;
          const subscribe = () => {
            clearTimeout(retry);
            retry = undefined;
            this.sub.psubscribe(...patterns).then(
              () => {
                // (an answer read on the connection as it is now: a close would have come first)
                if (!closed && this.sub.status === 'ready') sendBack({ type: 'CONTROL_READY' });
              },
              (e: Error) => {
                if (closed) return;
                const denied = /^NOPERM/.test(e.message) ? this.controlDenied(patterns, e) : undefined;
                // while start() waits, a refusal for good fails it: nothing would change by asking again
                if (denied && this.controlRefused) return this.controlRefused(denied);
                // (ioredis's "Reached the max retries per request limit... Refer to maxRetriesPerRequest"
                // said as the connection's trouble, as start() says it; a lost connection's, once a round)
                const why = denied ?? (e.name === 'MaxRetriesPerRequestError' ? (unavailable(config.redis, this.sub, e) as Error) : e);
                this.outage.warn(`control subscription failed (no task is claimed until it is made): ${why.message}`);
                // refused with the connection up (channels taken from its ACL user while it ran):
                // tried again, the worker claiming nothing meanwhile; else made again at 'ready'.
                // One retry at a time: two refusals in one turn (the first PSUBSCRIBE queued
                // before 'ready', and the one 'ready' sends) must not leave a timer unclearable
                clearTimeout(retry);
                retry = this.sub.status === 'ready' ? setTimeout(subscribe, CONTROL_RETRY_MS) : undefined;
              },
            );
          };
          let closes = 0;
          const lost = () => {
            closes++;
            clearTimeout(retry);
            retry = undefined;
            sendBack({ type: 'CONTROL_LOST' });
          };
          this.sub.on('ready', subscribe);
          this.sub.on('close', lost);
          subscribe();
          // A subscriber connection can die without closing here (Redis, a NAT or a firewall
          // dropped it, a Redis restarted behind a partition: no FIN, no RST reaches us), and it
          // sends nothing of its own that would fail: the worker claimed on, deaf to every stop,
          // until TCP keepalive gave up (hours). A PING each heartbeat, unanswered within a
          // command's timeout, closes it: 'close' (CONTROL_LOST), reconnect, subscribe again.
          // (A Cluster's subscriber node is checked so in src/redis.ts.)
          const silence = redisCommandTimeout(config.heartbeatInterval);
          let pinging = false;
          const check =
            this.sub instanceof Cluster
              ? undefined
              : setInterval(() => {
                  const conn = this.sub as Redis;
                  if (pinging || conn.status !== 'ready') return;
                  pinging = true;
                  let answered = false;
                  const since = closes;
                  void within(
                    silence,
                    conn.ping().then(() => void (answered = true)),
                  )
                    // (an event loop held longer than that, by a task, runs this timer before it
                    // reads the answer waiting on the socket: read first)
                    .then(() => new Promise((r) => setImmediate(r)))
                    .then(() => {
                      pinging = false;
                      // (closed meanwhile: the connection now up is not the one asked)
                      if (answered || closed || closes !== since || conn.status !== 'ready') return;
                      this.outage.warn(`subscriber connection silent for ${silence} ms: made again (no task is claimed until its control subscription is)`);
                      conn.disconnect(true);
                    });
                }, config.heartbeatInterval);
          return () => {
            closed = true;
            clearInterval(check);
            clearTimeout(retry);
            this.sub.off('pmessage', onMessage);
            this.sub.off('ready', subscribe);
            this.sub.off('close', lost);
          };
        }),
        redisWatch: redisWatch(this.redis),
        awaitRedis: awaitRedis(this.redis, REDIS_RETRY_MS, config.pingTimeout, this.layoutKey, () =>
          this.reconcileFailedAt === undefined ? 0 : this.reconcileFailedAt + Math.min(RECONCILE_RETRY_MS, config.heartbeatInterval) - performance.now(),
        ),
        probePeers: promiseEffect(async () => {
          const p = await probePeers(this.peers, config.pingTimeout, config.secret);
          // (what the count decides, said with it: "0 of 0 peers (need 60%)" read as a failed quorum)
          const decision = hasQuorum(p, config.partitionPercentage) ? 'keeps its tasks running' : 'halts its tasks';
          // (a server that lacks the db is reachable, but this worker's connection is dropped: say so)
          const why = refusedDb(this.redis, config.redis);
          const what = this.outage.what;
          this.outage.begins(p.total === 0
            ? `${what}${why}; no other worker known to ask (a lone worker cannot tell a partition from an outage): ${decision} while it waits for Redis`
            : `${what}${why}; reached ${p.reached} of ${p.total} peers (${config.partitionPercentage}% needed): ${decision} while it waits for Redis`);
          return p;
        }),
        recoverClaims: promiseEffect<void>(() => this.recoverClaims()),
        reconcile: promiseEffect(async () => {
          try {
            // claims sent before Redis was lost may have run, their replies lost with the link
            await this.recoverClaims();
            // A renew under way was sent before Redis was lost (it is resent as the connection
            // comes back) and names the leases of its start: its answer does not speak for every
            // task held now. Let it end, then check them all.
            await this.renewing?.catch(() => {});
            const lost = await this.renewAll();
            this.outage.ends(`Redis is back; reconciled ${this.tasks.size} task(s), ${lost.length} lost`);
            this.outage.answered();
            this.reconcileFailedAt = undefined;
            return { lost };
          } catch (e) {
            this.outage.failed(e);
            this.reconcileFailedAt = performance.now();
            throw e;
          }
        }),
        handBack: promiseEffect<void, { ids: string[] }>(async ({ input }) => {
          // (a task whose function returned before the halt reached it, its record still held:
          // its END is on its way, and handed back it would run again)
          const kept = input.ids.flatMap((id) => {
            const t = this.keptForHandBack.get(id);
            return t && !(t.settled === true && this.tasks.get(id) === t) ? [t] : [];
          });
          const remembered = (ts: LocalTask[]) => ts.map((t) => ({ id: t.id, lease: t.lease, raw: t.raw, attempt: t.attempt, start: t.start, epoch: t.epoch, part: t.part }));
          // each partition on its own: one that fails must not keep the others' tasks from going back
          // (the heartbeat renews the kept leases until the hand-back has answered: those left
          // then are handBackLeft's, which renews them itself)
          const each = await Promise.allSettled(
            this.parts.map(async (part) => {
              const mine = kept.filter((t) => t.part === part.index);
              const back = await handBack(this.redis, part.keys, mine.map((t) => ({ id: t.id, lease: t.lease })));
              // Fewer back than asked, Redis answering: it may have lost its data since the
              // last heartbeat (restarted empty during the stop), and a hash it lost has nothing
              // to hand back. The renew of their leases tells which: those are re-asserted from
              // memory, and handed back (a lease lost to another claim stays lost).
              const left = mine.filter((t) => !back.includes(t.id));
              if (!left.length) return back;
              // (refused: the partition's failure, so its tasks are handBackLeft's, which says why)
              const more = await handBackRemembered(this.redis, part.keys, this.address, remembered(left), config.heartbeatInterval, this.owner, redisCommandTimeout(config.heartbeatInterval));
              // (no answer: the same, or they went nowhere, their hashes lost and no word said)
              if (more === undefined) throw new Error(`Redis did not answer the renew of ${left.length} task(s) to hand back`);
              return [...back, ...more];
            }),
          ).finally(() => this.keptForHandBack.clear());
          const back = each.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
          this.telemetry.requeued('stop_grace', back.length);
          if (back.length) {
            // (a function that ignores its abort past abortTimeout is given up: JavaScript cannot
            // end it, and the task it runs is another worker's to run now)
            const returned = back.filter((id) => kept.find((t) => t.id === id)?.settled !== false);
            const running = back.filter((id) => !returned.includes(id));
            if (returned.length) log.warn(`stop grace over: handed ${returned.length} task(s) back to the queue once their functions had returned: ${returned.join(', ')}`);
            if (running.length) {
              log.warn(
                `stop grace over: handed ${running.length} task(s) back to the queue with their functions still running, abortTimeout (${config.abortTimeout} ms) after their abort: ${running.join(', ')}. ` +
                  'Their functions ignore their abort signal: another worker may run them while these copies go on',
              );
            }
          }
          const failed = each.find((r): r is PromiseRejectedResult => r.status === 'rejected');
          if (failed) {
            // Redis did not answer for some (with Redis restarted empty, nothing else knows them:
            // a monitor has no hash to requeue): handed back from memory as soon as Redis
            // answers, within the halt's abortTimeout.
            const left = remembered(kept.filter((t) => !back.includes(t.id) && each[t.part]?.status === 'rejected'));
            if (left.length) {
              // (never rejects: a logger that throws must not end the process, nor keep the stop
              // from deregistering)
              this.handingBackLeft = this.handBackLeft(left, this.haltedAt + config.abortTimeout).catch((e: unknown) => {
                try {
                  log.error('the hand-back of the tasks left failed', e);
                } catch {
                  // (the logger itself failing: nothing left to tell)
                }
              });
            }
            throw failed.reason;
          }
        }),
        deregister: promiseEffect<void>(async () => {
          try {
            // A claim that failed while the worker was leaving (stopping, Redis lost, or while
            // the other claim was on its way) may have run in Redis, its reply lost: nothing
            // after this would hand back what it took, and it would stay RUNNING under leases
            // nobody renews until a monitor requeued it (an attempt charged). The claims still
            // on their way answer first (bounded: a command times out), then what the failed
            // ones took goes back.
            // a registration still on its way (stopped while starting) lands first: sent after
            // this, it would list the worker again once it had left
            if (this.registering) await within(redisCommandTimeout(config.heartbeatInterval) + 1000, this.registering);
            if (this.claiming.size) await within(redisCommandTimeout(config.heartbeatInterval, config.redis.durable ? config.redis.durableTimeout : 0) + 1000, Promise.allSettled([...this.claiming]));
            // (and the waits given up as the worker left, unblocked: one whose reply is lost
            // after the recovery below left its claim's token unrecovered, its tasks to a monitor)
            await this.endAbandonedWaits(1000);
            await within(
              2000,
              this.recoverClaims().catch((e: Error) => log.warn(`could not recover the claims whose replies were lost (the monitor will requeue what they took): ${e.message}`)),
            );
            await this.handingBackLeft;
            // (not listed from now on: what addTaskFunction() says would land after this)
            this.listed = false;
            await within(2000, Promise.all(this.parts.map((part) => deregisterWorker(this.redis, part.keys, this.address, this.owner, part.othersGone))));
          } finally {
            await this.closeConnections();
            // The ENDs still unwritten are given up with the worker (Redis did not take them
            // within abortTimeout): their last words were "retrying", so say what it means.
            const unwritten = this.actor?.getSnapshot().context.settled ?? [];
            if (unwritten.length) {
              log.error(
                `stopped without writing the END of ${unwritten.length} task(s) whose functions had returned (Redis did not take it within abortTimeout): ${unwritten.join(', ')}. ` +
                  'Where Redis still holds them RUNNING, a monitor requeues them once their leases pass taskTimeout, and they run again',
              );
            }
            log.info('stopped');
          }
        }),
      },
      actions: {
        ...machines.actions,
        requestClaim: (_: unknown, params: unknown) => {
          const { free, round } = params as { free: number; round: number };
          // the room it asks of capped functions is held from the other claims until its tasks
          // are in `pending` (with none capped, it would hold nothing: no map, no step more)
          const hold = this.caps.size ? new Map<string, number>() : undefined;
          if (hold) this.asked.add(hold);
          let taken = this.claimNow(free, hold).then((replies) => this.takeAll(replies, () => false));
          if (hold) taken = taken.finally(() => this.asked.delete(hold));
          void this.onItsWay(
            taken.then(
              ({ tasks }) => this.answer({ type: 'CLAIMED', tasks, asked: free, round }),
              (error: unknown) => this.answer({ type: 'CLAIM_FAILED', error, asked: free, round }),
            ),
          );
        },
        handBackClaimed: ({ event }) => {
          if (event.type === 'CLAIMED') void this.handBackClaimed(event.tasks);
        },
        keepForHandBack: ({ context }) => {
          this.haltedAt = performance.now();
          for (const id of context.haltedForStop) {
            const t = this.tasks.get(id);
            if (t) this.keptForHandBack.set(id, t);
          }
        },
        reportTaskCrash: ({ event }) => {
          if (event.type !== 'TASK_CRASHED') return;
          const id = event.id;
          // A crashed task machine cannot abort its run any more: abort the function ourselves, or it
          // would run on, orphaned, while the monitor requeues its task elsewhere.
          const t = this.tasks.get(id);
          if (t) this.telemetry.released(t, undefined, true, (event as { error?: unknown }).error);
          t?.controller?.abort(new Error(`task ${id} aborted: its task machine crashed`));
          if (t?.timeout) disarmAttemptTimer(t);
          this.tasks.delete(id);
          // crashed before it adopted its claim: the claim's record would count against its cap
          this.pending.delete(id);
          log.error(`task ${quote(id)}: its task machine crashed (a bug in task-swarm); dropped, the monitor will requeue it`, (event as { error?: unknown }).error);
        },
        reportError: effectErrorReporter(log, 'worker', (e) => e !== undefined && e === this.startError, (text) => this.outage.warn(text)),
      },
    });
  }
}
