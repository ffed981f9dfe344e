/**
 * Client: submit tasks, read them, follow their events, control them, wait for their end, and
 * read or retry the dead-letter list.
 */
import type { Connection } from './redis.js';
import { guardOutage, sendHeld } from './outage-guard.js';
import { resolveClientFields, resolveRedisConfig, type RedisConfig, type RedisOptions } from './config.js';
import { checkGroup } from './effects/limits.js';
import { ConfigError, DuplicateTaskError, InvalidTaskError, NotDurableError, PartlySubmittedError, StateError, TaskNotFoundError, TimeoutError, UnsupportedServerError } from './errors.js';
import { checkEntrySize, CHECKED_OVER, sizeOver, tooLarge, workersLimit, type PayloadLimit } from './payload-limit.js';
import { quote } from './quote.js';
import { buildKeys, type Keys } from './keys.js';
import { checkLayout, readLayout } from './effects/layout.js';
import { drawTaskId, partitionKeys, partitionOf, partitionOfPlace } from './partitions.js';
import { checkLogger, createLogger, type LoggerLike } from './logger.js';
import { readTogether } from './read-together.js';
import { lastingRefusal, toldRefusal } from './redis-refusal.js';
import { connect, connectionOwner, endStranded, lastConnectionError, redisAddress, redisTimeAt, subscribable } from './redis.js';
import { readMonitors, type MonitorView } from './effects/monitors.js';
import { checkServer } from './server-version.js';
import { READ_AGAIN, holdPlace, readInPlace, readMark, reloading } from './script-line.js';
import { ensureLibrary, partlyRun, refusedMoving } from './scripts.js';
import { surelyNotRun, toldAfterResend } from './call-fate.js';
import { selectRefusal } from './db-select.js';
import { within } from './within.js';
import {
  formatControl,
  isOutcome,
  isStoredError,
  parseEndEvent,
  parseEntry,
  parseEvent,
  lastEventOf,
  serializeError,
  taskData,
  type ControlInput,
  type EndEventData,
  type LastEvent,
  type StoredError,
  type TaskEvent,
  type TaskOutcomeName,
} from './wire.js';
import { cancelTask, stopTask, submitTasks, type SubmitReply } from './effects/queue.js';
import { replicated } from './effects/durable.js';
import { buildSubmission, checkIdText, checkKey, sameSubmission, type ProducerContext, type Submission, type SubmitOptions } from './submission.js';
import { batchFunction, submitTrace } from './telemetry/submit-trace.js';
import { swarmCounts, type SwarmCounts } from './effects/swarm-counts.js';
import { readServed, unservedNote } from './served-functions.js';
export type { SubmitOptions, BackoffOption } from './submission.js';
import { purgeDead, readDeadLetter, readDeadLetters, retryDead, type DeadLetter } from './effects/dead-letters.js';
import { readLimits, setLimit, type Limit, type LimitInfo, type LimitTarget } from './effects/limits.js';
import { checkPauseTarget, pause, resume } from './effects/pause.js';
import { readSchedules, removeSchedule, setSchedule } from './effects/schedules.js';
import { checkSchedule, checkScheduleName, taskOf, type ScheduleInfo, type ScheduleOptions, type ScheduleSpec } from './schedule.js';
export type { ScheduleInfo, ScheduleOptions, ScheduleSpec, Overlap } from './schedule.js';
import type { DeadLetterReason } from './errors.js';
import { dictionary } from './dictionary.js';

export type TaskState = 'QUEUED' | 'DELAYED' | 'RUNNING' | 'END';
export type { TaskOutcomeName };
const STATES: ReadonlySet<string> = new Set<TaskState>(['QUEUED', 'DELAYED', 'RUNNING', 'END']);

/** One attempt of a task, in `TaskInfo.history`. */
export interface AttemptRecord {
  attempt: number;
  /** `host:port` of the worker that ran it */
  worker: string;
  /** Redis time (ms) it was claimed (null when unknown) */
  start: number | null;
  /** Redis time (ms) it ended: settled, or found dead by a monitor */
  end: number;
  /** how it ended: the task's outcome for the last attempt, `failed` for one retried, `died` when its worker died */
  outcome: TaskOutcomeName | 'died';
  error?: StoredError;
  /** for `died`: why the monitor took it back */
  reason?: string;
}

/** What `cancel` did. */
export type CancelResult =
  /** it was queued or delayed: removed, ended `cancelled` */
  | 'cancelled'
  /**
   * it was running: a stop was sent, it ends `stopped` (or `cancelled`, when it was put back
   * before the stop reached it: its worker died or handed it back); it is not tried again
   */
  | 'stopping'
  /** it had ended already: nothing done */
  | 'ended';

/** What `control` did. */
export type ControlResult =
  /** a message other than `stop`: published on the task's control channel (only a running task acts on it) */
  | 'sent'
  /** `stop` of a running task: marked in its hash and published; it ends `stopped` */
  | 'stopping'
  /**
   * `stop` of a task between two attempts (DELAYED for a retry's backoff, or QUEUED again after
   * a claim: its worker died, or handed it back): cancelled, its next attempt does not run
   */
  | 'cancelled'
  /** `stop` of a task queued or delayed that no claim has taken yet: nothing done (`cancel` removes it) */
  | 'waiting'
  /** `stop` of a task that had ended: nothing done */
  | 'ended';

export interface TaskInfo {
  id: string;
  /** QUEUED, DELAYED, RUNNING or END; anything else is a hash edited by hand, passed through as stored ('' when it has none) */
  state: TaskState | (string & {});
  /**
   * its function; absent, with `data` and `raw`, while the task is still on `new-task`, not
   * routed yet by any claim (docs/semantics.md, "What `get` answers of a task not routed yet")
   */
  function?: string;
  /** its fairness group, when it has one */
  group?: string;
  /** its priority, when not 0 */
  priority?: number;
  /** `host:port` of the worker running (or that ran) it */
  worker?: string;
  /** ms since epoch (Redis time) it was claimed */
  start?: number;
  /** ms since epoch (Redis time) of its last heartbeat or change */
  update?: number;
  /** ms since epoch (Redis time) it ended */
  end?: number;
  attempt: number;
  outcome?: TaskOutcomeName;
  result?: unknown;
  error?: StoredError;
  /** the task's data, parsed when it was a JSON string */
  data?: unknown;
  /** the task entry as it was queued */
  raw?: string;
  manualEnd: boolean;
  /**
   * DELAYED: when it may start (Redis time, ms), and why it waits: `delay` (submitted with a
   * delay or runAt) or `retry` (an attempt failed; the backoff runs)
   */
  runAt?: number;
  reason?: 'delay' | 'retry';
  /** its dedupe key, when submitted with one */
  key?: string;
  /**
   * the last event on its channel while it ran: the task's own (`task.emit`, fenced by its
   * lease like every event; `data` kept when the event was at most 1 KiB) or the runtime's
   * (`end`, `requeued`, `retrying`, `control-error`; name and time only)
   */
  lastEvent?: LastEvent;
  /**
   * one record per attempt that ended (retried, died, and the last one once the task has
   * ended), oldest first
   */
  history?: AttemptRecord[];
  /**
   * set when the task was parked in the dead-letter store instead of run (state END, outcome
   * failed): why, and the dead letter's key (Client.retryDead / purgeDead take it)
   */
  parked?: { reason: DeadLetterReason; key: string };
  /**
   * hash fields whose content is not what the runtime writes (a hash edited by hand), as
   * stored; their typed field above is left out (`attempt` is then 0)
   */
  invalid?: Record<string, string>;
  /**
   * set by `wait` alone, when the hash was gone by the time it read it (cleaned up at once:
   * `endRetention: 0`): `outcome`, `result` or `error`, `parked` and `end` come from the
   * runtime's end event, the other fields are as `wait` last read them
   */
  fromEndEvent?: true;
}

/** What `stats` says of one function. */
export interface FunctionStats {
  /** tasks routed to it and waiting (entries not routed yet are counted in `queued` of stats) */
  queued: number;
  running: number;
  /** tasks waiting for a time: a delay, or a retry's backoff */
  delayed: number;
  /** live workers that serve it */
  workers: number;
  paused: boolean;
}

/** What `stats` says of the swarm: the counts of one read (src/effects/swarm-counts.ts), each function's running tasks added. */
export type SwarmStats = Omit<SwarmCounts, 'functions' | 'deadStats' | 'now' | 'oldestLease'> & { functions: Record<string, FunctionStats> };

export interface ClientOptions {
  redis?: RedisOptions;
  /**
   * largest task JSON (bytes) `submit` and `submitMany` accept, and `schedule` for the task of
   * each tick: a larger task is refused with a TaskTooLargeError, nothing written. Default: the
   * live workers' (a task over 64 KiB is refused when it is over every live worker's
   * maxPayloadBytes; src/payload-limit.ts)
   */
  maxPayloadBytes?: number;
  /** where the client reports a `subscribe` handler that threw (once per handler); default: tslog, as the Worker */
  logger?: LoggerLike;
}

/**
 * What `subscribe` returns: call it to unsubscribe. `ready` resolves once Redis has answered the
 * SUBSCRIBE: every event published after that reaches the handler (pub/sub keeps nothing, so
 * one published before may not). It rejects with a ConfigError when Redis refused the channel
 * (an ACL user without it): the handler will hear nothing (the refusal is also logged).
 */
export type Unsubscribe = (() => void) & { ready: Promise<void> };

export interface WaitOptions {
  /** ms after which `wait` rejects with a TimeoutError; 0 or absent: no limit */
  timeout?: number;
  /**
   * ms between re-reads of the hash when nothing else prompts one, the last resort should an
   * event and a reconnect both be missed (default 5000)
   */
  pollInterval?: number;
  /**
   * ms (default 30000): a task this wait has seen, then found gone by every read for this long
   * with no end event heard (its hash deleted, its retention over while the subscriber was
   * away, or lost by a Redis restarted without persistence, and not re-asserted by a worker),
   * rejects with a TaskNotFoundError; 0: wait for it to come back, however long. Keep it
   * above the workers' heartbeatInterval: a Redis emptied in place (FLUSHALL, no restart) is
   * noticed by a worker, which re-asserts its running tasks, at its next heartbeat
   */
  goneAfter?: number;
}

const WAIT_OPTIONS = ['timeout', 'pollInterval', 'goneAfter'];
/** the keys of a submitMany item */
const SUBMIT_MANY_ITEM_KEYS = ['fn', 'data', 'options'];
/** how long Redis may be unreachable before a call fails at once instead of waiting for it */
export const CLIENT_PATIENCE_MS = 10_000;

/** how many function names a Client looks up the serving workers of (lookWhoServes): a producer that makes names up as it goes costs no read past these */
const UNSERVED_LOOKS = 1000;
/** how long after a look that could not tell (no worker listed yet) a name may be looked at again */
const UNSERVED_LOOK_AGAIN_MS = 10_000;

export class Client {
  readonly config: RedisConfig;
  /** the largest task entry a submit writes: ClientOptions.maxPayloadBytes (none given: the live workers', src/payload-limit.ts) */
  private readonly ownLimit?: PayloadLimit;
  /** partition 0's keys: the swarm's own (schedules; with one partition, everything) */
  private readonly keys: Keys;
  /** the partition count recorded by this client's first submit (src/effects/layout.ts) */
  private layoutWritten?: Promise<void>;
  /** every partition's keys (src/partitions.ts); one unless `redis.partitions` says more */
  private readonly parts: Keys[];
  private readonly redis: Connection;
  /** names our connections (redis.ts connectionOwner), unique to this client */
  private readonly owner = `client-${connectionOwner()}`;
  private sub?: Connection;
  /** stops the outage guard's watchdog (src/outage-guard.ts) */
  private readonly unguard: () => void;
  private readonly handlers = new Map<string, Set<(ev: TaskEvent) => void>>();
  /** each subscribed channel's SUBSCRIBE, settled once Redis has answered it */
  private readonly subscribed = new Map<string, Promise<void>>();
  /**
   * channels whose SUBSCRIBE waits for the subscriber connection to be ready, not yet sent: each
   * one's waker, called once it is ready or has ended, or when the channel is left first
   */
  private readonly unsent = new Map<string, () => void>();
  /** the waits' reads, made when the subscriber connection is refused for good (a password wrong or missing) */
  private readonly subRefused = new Set<() => void>();
  /** channels left while the subscriber connection was not ready: UNSUBSCRIBEd once it is, unless followed again */
  private readonly leaving = new Set<string>();
  private readonly log: LoggerLike;
  /** handlers already reported as throwing: a handler that throws on every event is logged once */
  private readonly reported = new WeakSet<(ev: TaskEvent) => void>();
  /** pending waits, rejected by close() (their poll would keep the process alive) */
  private readonly waits = new Set<() => void>();
  /** what pending waits do when the subscriber connection is ready again (one listener for all) */
  private readonly reconnects = new Set<() => void>();
  /** the server's version check, made before the first script runs (kept once it passed or found the server too old) */
  private serverChecked?: Promise<void>;
  /** Client.submit's calls of this tick, sent together at its end (`flushSubmits`) */
  private coalesced?: Coalesced[];
  /** those sent and not yet answered: close() lets them finish before it quits */
  private readonly submitting = new Set<Promise<void>>();
  /** the partition count checked by a call that only reads (kept once the swarm had one) */
  private layoutRead?: Promise<void>;
  /** readyToSubmit has passed once (kept, as what it checked): a tick's submits are written at its end, at once */
  private submitsReady = false;
  /** submits sent before the client was ready, until their script is written: a call made after them waits for it */
  private issuing?: Promise<void>;
  /** a call other than a submit was made in this turn of the event loop (submitsFirst) */
  private callsThisTurn = false;
  /**
   * the function names whose serving workers were looked at (src/served-functions.ts), up to
   * UNSERVED_LOOKS: each with when it may be looked at again (performance.now() ms; Infinity
   * once the workers said, serving it or not)
   */
  private readonly looked = new Map<string, number>();
  /** the looks (lookWhoServes) not yet answered: close() waits for them beside its QUIT, not before it */
  private readonly looks = new Set<Promise<void>>();

  constructor(options: ClientOptions = {}) {
    if (options === null || typeof options !== 'object') throw new ConfigError('Client options must be an object');
    const own = resolveClientFields(options as Record<string, unknown>).maxPayloadBytes;
    if (own !== undefined) this.ownLimit = { bytes: own, whose: 'client' };
    this.log = createLogger('client', checkLogger('Client', options.logger));
    this.config = resolveRedisConfig(options.redis);
    this.parts = partitionKeys(this.config);
    this.keys = this.parts[0]!;
    // A client is patient with a Redis restart: a command waits for up to ~20 reconnects; once
    // Redis has been away for CLIENT_PATIENCE_MS, new calls fail at once (src/outage-guard.ts).
    this.redis = connect(this.config, 'command', this.owner, { lazyConnect: false, maxRetriesPerRequest: 20 });
    this.redis.on('error', () => {});
    this.unguard = guardOutage(this.redis, this.config, CLIENT_PATIENCE_MS);
  }

  /**
   * The client has no start: the server's version is checked before the first call that runs a
   * script, once (an unreachable server is asked again at the next call).
   */
  private checkServer(): Promise<void> {
    // (at once, not after the check: a step more would let a read made after this call pass it)
    this.onOwnDb();
    const first = this.submitsFirst();
    return first ? first.then(() => this.serverCheck()) : this.serverCheck();
  }

  /** close() was called: later calls are a StateError, not a refusal that reads as Redis being away */
  private closed = false;

  private open(method?: string): void {
    if (this.closed) throw new StateError(`${method ? `${method}: ` : ''}this client is closed (make a new Client)`);
  }

  /**
   * Checked at each call, not only the first: a reconnect whose SELECT is refused leaves the
   * connection in db 0, where a call would read and write another swarm's keys.
   */
  private onOwnDb(): void {
    this.open();
    this.ownDb();
  }

  /** onOwnDb without the close check: for a call made before close(), a step on */
  private ownDb(): void {
    const refused = selectRefusal(this.redis, `Redis at ${redisAddress(this.config)}`);
    if (refused) throw refused;
  }

  /**
   * A call made after submits still waiting for the end of the tick sends them first, and waits
   * until their script is written: a client's calls reach Redis in the order they were made (a
   * submit, then a cancel of its id, finds it; a cancel, then a submit with its dedupe key, finds
   * the key free).
   */
  private submitsFirst(): Promise<void> | undefined {
    if (this.coalesced) this.flushSubmits();
    // A submit made after this call in the same turn of the event loop must not pass it: see
    // submitOne. (Until the turn's auto-pipeline has gone: setImmediate, as ioredis sends it.)
    if (!this.callsThisTurn) {
      this.callsThisTurn = true;
      setImmediate(() => (this.callsThisTurn = false));
    }
    return this.issuing;
  }

  private serverCheck(): Promise<void> {
    const check = async () => {
      await checkServer(this.redis, `Redis at ${redisAddress(this.config)}`, buildKeys(this.config).layout);
      // (only compared: a call refused for bad input must write nothing; a submit records it)
      await readLayout(this.redis, buildKeys(this.config).layout, this.config.partitions);
      // (before the first script: one that finds the library missing is sent again behind the
      // calls made after it, src/scripts.ts ensureLibrary)
      await ensureLibrary(this.redis, this.parts.map((k) => k.newQueue));
    };
    return (this.serverChecked ??= check().catch((e: unknown) => {
      // (kept: a server too old, a partition count the swarm does not have; asked again: the rest)
      if (!(e instanceof UnsupportedServerError) && !(e instanceof ConfigError)) this.serverChecked = undefined;
      throw e;
    }));
  }

  /**
   * Before a call that only reads: a client that counts the partitions otherwise than the swarm
   * would read other keys (an empty status, "unknown" tasks): refused, as a write is. Writes
   * nothing (src/effects/layout.ts readLayout).
   */
  private checkReads(): Promise<void> {
    return this.checkReadsPlaced().then(() => undefined);
  }

  /**
   * checkReads; with `run` (the read), true once `run` was called: in the step that hands over
   * what ioredis's auto-pipeline holds, or, a reload under way once the calls made before this
   * one are in line, at the read's place among the calls it holds (src/script-line.ts holdPlace)
   * rather than once it ended (which sent the calls made after the read before it).
   */
  private checkReadsPlaced(run?: () => void, madeBefore = false): Promise<boolean> {
    // (closed: a StateError, before a check that would say Redis cannot be reached; not for a
    // read made before close(), made again after it)
    if (!madeBefore) this.open();
    const first = this.submitsFirst();
    // (a read is a MULTI, which ioredis writes at once: after what the auto-pipeline holds)
    return (first ? first.then(() => this.readsCheck()) : this.readsCheck()).then(() => {
      // (the db only: a read made before close() is answered, as a write made before it is,
      // where the close check here refused it, close() being called in the meantime)
      this.ownDb();
      // (its place taken here, a step on: a call made before it, a cancel, reaches its script
      // after its own step, `await this.checkServer()`, and is held then; taken as the read was
      // made, the place came before that cancel's, and the get read the task queued. What the
      // auto-pipeline holds is written as the read runs, in its place, not waited for here: the
      // reload could end meanwhile and pass the place)
      if (run && holdPlace(this.redis, run)) return true;
      // (the library being loaded again: the scripts of calls made before this one are sent
      // when it ends, src/script-line.ts, and the read after them)
      const reload = reloading(this.redis);
      if (reload) return reload.then(() => this.pipelineSent()).then(() => false);
      // What is held handed over and the read written in one step: a step between, and a read
      // made after this one, handing over the calls made between the two (a cancel), sent them
      // before this read (a get made before the cancel read the task cancelled).
      if (run && (this.redis.autoPipelineQueueSize === 0 || sendHeld(this.redis))) {
        run();
        return true;
      }
      return this.pipelineSent().then(() => false);
    });
  }

  /**
   * What ioredis's auto-pipeline holds is written (a MULTI or a pipeline is written at once, and
   * would pass the commands of calls made before it, still held there until the turn's end).
   */
  private async pipelineSent(): Promise<void> {
    if (this.redis.autoPipelineQueueSize === 0) return;
    // What it holds now was made before this call: handed over at once, in order. (Waiting for
    // ioredis to write it, a few turns, fell short whenever it held it behind a batch still
    // unanswered, Redis frozen or slow, and on a Cluster whenever the client made calls every
    // turn, ioredis holding each node's batch until the node answered the one before: the read
    // was written first, and a get read a task before the cancel, even the submit, made before
    // it. Waiting until it was answered let the calls made after the read pass it.) Calls made
    // after this go in batches of their own, after it.
    if (sendHeld(this.redis)) return;
    // (another ioredis than the one sendHeld was written for)
    for (let turns = 0; turns < 10 && this.redis.autoPipelineQueueSize > 0; turns++) await new Promise((r) => setImmediate(r));
  }

  /**
   * A read, after checkReads; made again when a script sent before it found the function
   * library missing (it ran before that script was sent again, src/script-line.ts), once the
   * library is loaded again and those scripts sent.
   */
  private reading<T>(read: () => Promise<T>): Promise<T> {
    const answer = this.readingPlaced(read);
    // (close() lets it finish before it quits, as the submits made before it)
    this.closeWaitsFor(answer.then(ignore, ignore));
    return answer;
  }

  private async readingPlaced<T>(read: () => Promise<T>): Promise<T> {
    // A reload under way: the read takes its place among the calls it holds, so that one made
    // after it, held too, is sent after it. What it does there is given with the place (set a
    // step later, the reload could end in between, and the calls held after it go out first).
    // None: it is written as what ioredis's auto-pipeline holds is handed over, in that step.
    let start!: () => void;
    const inPlace = new Promise<T | typeof READ_AGAIN>((resolve, reject) => {
      start = () => {
        // (the held calls before it wait in ioredis's auto-pipeline: written first)
        sendHeld(this.redis);
        this.readMarked(read).then(resolve, reject);
      };
    });
    let answer = (await this.checkReadsPlaced(start)) ? await inPlace : await this.readMarked(read);
    while (answer === READ_AGAIN) {
      // (made before close(), if that was called meanwhile: answered all the same)
      await this.checkReadsPlaced(undefined, true);
      answer = await this.readMarked(read);
    }
    return answer;
  }

  /**
   * `read`, made again in its place among the scripts sent again when it passed one sent before
   * it that found the library missing (src/script-line.ts); READ_AGAIN when that could not be
   * told. (What ioredis's auto-pipeline holds then, the scripts sent again before it, is written
   * first: a MULTI is written at once.)
   */
  private async readMarked<T>(read: () => Promise<T>): Promise<T | typeof READ_AGAIN> {
    // (a MULTI is written at once: the scripts ioredis's auto-pipeline holds now go after it)
    const mark = readMark(this.redis, heldScripts(this.redis));
    const answer = await read();
    return readInPlace(this.redis, mark, answer, () => {
      // (the scripts sent again before it wait in ioredis's auto-pipeline, on a Cluster too: a
      // MULTI is written at once, and passed them)
      sendHeld(this.redis);
      return read();
    });
  }

  /** `read` (not after checkReads), made again as `reading` does */
  private async readAgainIfPassed<T>(read: () => Promise<T>): Promise<T> {
    for (;;) {
      const reload = reloading(this.redis);
      if (reload) await reload.then(() => this.pipelineSent());
      const answer = await this.readMarked(read);
      if (answer !== READ_AGAIN) return answer;
    }
  }

  private readsCheck(): Promise<void> {
    if (this.serverChecked) return this.serverChecked;
    return (this.layoutRead ??= readLayout(this.redis, buildKeys(this.config).layout, this.config.partitions).then(
      (found) => {
        // (no count yet: asked again next time)
        if (!found) this.layoutRead = undefined;
      },
      (e: unknown) => {
        if (!(e instanceof ConfigError)) this.layoutRead = undefined;
        throw e;
      },
    ));
  }

  /**
   * Queue a task for `fn`; resolves with its id once it is in Redis. With a dedupe `key` held by
   * a task that is queued, delayed or running, resolves with that task's id and queues nothing.
   */
  async submit(fn: string, data?: unknown, options: SubmitOptions = {}): Promise<string> {
    this.open('submit');
    const trace = submitTrace(() => String(fn), 1);
    try {
      const now = Date.now();
      const sub = buildSubmission(fn, data, options, 'submit', this.newId, { now, trace: trace?.carrier, firstSubmitOf: this.firstSubmitOf });
      checkEntrySize(sub, 'submit', this.ownLimit);
      this.checkDrawnPlace(sub, 'submit');
      this.sending([sub], now);
      const id = await this.submitOne(sub);
      trace?.done({ ids: [id] });
      this.lookWhoServes('submit', [fn]);
      return id;
    } catch (error) {
      trace?.done({ error });
      throw error;
    }
  }

  /**
   * Queue many tasks in one round trip, all or nothing: when any id is taken, nothing is queued
   * and it rejects with a DuplicateTaskError naming it. Every task is checked before anything is
   * written. Resolves with the ids in order (for a task whose dedupe key another task holds, that
   * task's id; for the same task given twice, its id at both places). One id given to two
   * different tasks in the list is a DuplicateTaskError naming both places; an item's key other
   * than fn, data and options an InvalidTaskError naming it.
   */
  async submitMany(tasks: readonly { fn: string; data?: unknown; options?: SubmitOptions }[]): Promise<string[]> {
    this.open('submitMany');
    if (!Array.isArray(tasks)) throw new InvalidTaskError('submitMany: takes an array of { fn, data?, options? }');
    const trace = tasks.length ? submitTrace(() => batchFunction(tasks), tasks.length) : undefined;
    try {
      const ids = await this.submitBatch(tasks, { now: Date.now(), trace: trace?.carrier, firstSubmitOf: this.firstSubmitOf });
      trace?.done({ ids });
      this.lookWhoServes('submitMany', tasks.map((t) => t.fn));
      return ids;
    } catch (error) {
      trace?.done({ error });
      throw error;
    }
  }

  private async submitBatch(tasks: readonly { fn: string; data?: unknown; options?: SubmitOptions }[], producer: ProducerContext): Promise<string[]> {
    // submits made before this call, still waiting for the end of the tick, go first: a
    // producer's tasks are queued in the order it made its calls
    if (this.coalesced) this.flushSubmits();
    // and the calls made after it (a submit) wait until its last batch is written: over several
    // batches each waits for the answer to the one before, longer than a tick
    const { before, release: issued } = this.holdLater();
    const call = this.submitBatchAfter(tasks, producer, before, issued).finally(issued);
    // (close() waits for it, as for the tick's submits)
    this.closeWaitsFor(call.then(ignore, ignore));
    return call;
  }

  /**
   * A Client given no maxPayloadBytes: refuse the first of `subs` that is over every live
   * worker's (src/payload-limit.ts). Read only when one is over CHECKED_OVER: once for each
   * partition (`keysOf`) such a task goes to. One whose very entry is written already (a list
   * submitted again) is not refused: the writes answer its id, as submit.lua does for submit.
   */
  private async checkWorkersTake(subs: readonly Submission[], where: (i: number) => string, keysOf: (t: Submission) => Keys, what?: string): Promise<void> {
    if (this.ownLimit) return;
    const reads = new Map<Keys, Promise<PayloadLimit | undefined>>();
    const large: { i: number; size: number; limit: Promise<PayloadLimit | undefined> }[] = [];
    subs.forEach((t, i) => {
      const size = sizeOver(t, CHECKED_OVER);
      if (size === undefined) return;
      const keys = keysOf(t);
      if (!reads.has(keys)) reads.set(keys, workersLimit(this.redis, keys));
      large.push({ i, size, limit: reads.get(keys)! });
    });
    for (const { i, size, limit } of large) {
      const l = await limit;
      // (`what` given: a schedule's tick, never written by this call's id)
      if (l && size > l.bytes && (what !== undefined || !(await this.holdEach([subs[i]!]))[0])) throw tooLarge(where(i), what ?? `task ${quote(subs[i]!.id)}`, size, l);
    }
  }

  /** `sent` (a submit call that never rejects) is one close() lets finish before it quits */
  private closeWaitsFor(sent: Promise<void>): void {
    this.submitting.add(sent);
    void sent.finally(() => this.submitting.delete(sent));
  }

  private async submitBatchAfter(
    tasks: readonly { fn: string; data?: unknown; options?: SubmitOptions }[],
    producer: ProducerContext,
    before: Promise<void> | undefined,
    issued: () => void,
  ): Promise<string[]> {
    // (Array.from visits a sparse array's holes, which map skips: each is refused as not an object)
    const given = Array.from(tasks, (t, i) => {
      if (t === null || typeof t !== 'object') throw new InvalidTaskError(`submitMany[${i}]: must be an object { fn, data?, options? }`);
      // (a key it does not know is usually a typo, `date` for data: what was meant would be lost)
      for (const k of Object.keys(t)) if (!SUBMIT_MANY_ITEM_KEYS.includes(k)) throw new InvalidTaskError(`submitMany[${i}]: unknown key ${quote(k)} (known: ${SUBMIT_MANY_ITEM_KEYS.join(', ')})`);
      const sub = buildSubmission(t.fn, t.data, t.options, `submitMany[${i}]`, this.newId, producer);
      // (one over the limit refuses the whole call, as any other item refused: nothing written)
      checkEntrySize(sub, `submitMany[${i}]`, this.ownLimit);
      this.checkDrawnPlace(sub, `submitMany[${i}]`);
      return sub;
    });
    // The very same task twice in the list is one submission, its id answered at each place, as
    // submit made twice answers it; one id given to two different tasks is refused.
    const subs: Submission[] = [];
    const place: number[] = [];
    const firstOf = new Map<string, number>();
    for (const [i, t] of given.entries()) {
      const j = firstOf.get(t.id);
      if (j === undefined) {
        firstOf.set(t.id, subs.length);
        place.push(subs.length);
        subs.push(t);
      } else if (sameSubmission(subs[j]!, t)) place.push(j);
      else {
        const first = place.indexOf(j);
        throw new DuplicateTaskError(t.id, `submitMany[${i}]: task id ${quote(t.id)} is given twice in the call, to two different tasks (submitMany[${first}] and submitMany[${i}]); nothing was written`);
      }
    }
    const answer = (ids: string[]) => (subs.length === given.length ? ids : place.map((j) => ids[j]!));
    if (producer.now !== undefined) this.sending(subs, producer.now);
    // Bounded batches keep each script call short (submit.lua is one atomic step per call): a
    // task written whole (placed, delayed, keyed) weighs more than one pushed on new-task.
    const batches: Submission[][] = [[]];
    let weight = 0;
    for (const t of subs) {
      const w = weightOf(t);
      if (weight + w > SUBMIT_BATCH && batches.at(-1)!.length > 0) {
        batches.push([]);
        weight = 0;
      }
      batches.at(-1)!.push(t);
      weight += w;
    }
    // Over several batches, the ids the caller chose are checked first (one read), so a list
    // holding a used id writes nothing; generated ids are new. Only an id taken by another
    // producer between this check and the writes can still leave the batches before it written
    // (docs/semantics.md, "Bulk submit"). So over several partitions too: each partition's share
    // of a batch is a script of its own, and one refusing cannot undo what the others wrote.
    if (before) await before;
    await this.checkWorkersTake(subs, (j) => `submitMany[${place.indexOf(j)}]`, (t) => this.keysOf(t.id));
    const chosenIds = new Set(given.filter((_, i) => tasks[i]!.options?.id !== undefined).map((t) => t.id));
    const chosen = subs.filter((t) => chosenIds.has(t.id));
    const spread = this.parts.length > 1 && new Set(subs.map((t) => this.partOf(t.id))).size > 1;
    if ((batches.length > 1 || spread) && chosen.length > 0) {
      // (a pipeline per partition: a Cluster runs one only when all its keys are in one slot)
      const byPart = new Map<number, Submission[]>();
      for (const t of chosen) byPart.set(this.partOf(t.id), [...(byPart.get(this.partOf(t.id)) ?? []), t]);
      for (const [p, list] of byPart) {
        const k = this.parts[p]!;
        // (a read: made again when it passed a submit sent before it that found the library
        // missing, src/script-line.ts, as the client's other reads are)
        const replies = await this.readAgainIfPassed(async () => {
          const pipe = this.redis.pipeline();
          for (const t of list) pipe.exists(k.task(t.id)).sismember(k.queued, t.id);
          return (await pipe.exec()) ?? [];
        });
        const taken: Submission[] = [];
        for (let i = 0; i < list.length; i++) {
          const [[e1, inHash], [e2, inQueue]] = [replies[2 * i]!, replies[2 * i + 1]!];
          if (e1 || e2) throw e1 ?? e2;
          if (inHash === 1 || inQueue === 1) taken.push(list[i]!);
        }
        // (the very same entry, a list submitted again, is no other task: the writes answer its id)
        const held = await this.holdEach(taken);
        const other = taken.find((_, i) => !held[i]);
        if (other) throw new DuplicateTaskError(other.id);
      }
    }
    try {
      return answer(await this.submitAll(batches, issued));
    } catch (e) {
      if (subs.length === given.length) throw e;
      // (the ids the call would have answered: one per place given, a twin's at each of its places)
      if (e instanceof PartlySubmittedError) throw new PartlySubmittedError(e.message, answer([...e.ids]), e.submitted, e.notSubmitted, e.unknown, e.cause);
      if (e instanceof NotDurableError) throw new NotDurableError(e.message, answer([...e.taskIds]), e.acknowledged);
      throw e;
    }
  }

  /**
   * Write the batches one after another, then (redis.durable) one WAIT for them all: it covers
   * every batch (they went out on one connection, before it), and a NotDurableError names the
   * ids the caller would have had, of the tasks this call queued, and no others (a batch
   * refused for a taken id queued nothing; a task whose dedupe key another holds is that one).
   */
  private async submitAll(batches: Submission[][], issued: () => void): Promise<string[]> {
    if (batches.every((b) => b.length === 0)) return [];
    // (made after another call in this turn: that one's command may still be to make, see submitEach)
    const turn = this.callsThisTurn ? new Promise<void>((r) => setImmediate(r)) : undefined;
    await this.readyToSubmit();
    if (turn) await turn;
    const ids: string[] = [];
    for (let i = 0; i < batches.length; i++) {
      const written = this.write(batches[i]!);
      // (the last batch's script is written: a call made after the submitMany may go)
      if (i === batches.length - 1) issued();
      try {
        ids.push(...(await written));
      } catch (e) {
        const u = unfinished(e, batches[i]!);
        // (what failed was a write made again of tasks all queued by then: the call did what it was for)
        if (u.fates.every((f) => typeof f === 'object')) {
          ids.push(...u.fates.map((f) => (f as { id: string }).id));
          continue;
        }
        // (the batches before it are queued, those after it were never sent)
        throw partlySubmitted(ids, batches[i]!, u, batches.slice(i + 1).flat());
      }
    }
    const what = `submit of ${ids.length === 1 ? `task ${quote(ids[0])}` : `${ids.length} tasks`}`;
    // (one WAIT per partition written: on a Cluster each may be another primary)
    const written = new Set(batches.flat().map((t) => this.partOf(t.id)));
    await Promise.all([...written].map((p) => replicated(this.redis, this.parts[p]!.newQueue, this.config, what, ids)));
    return ids;
  }

  /** the server checked, and the swarm laid out: a submit records the count if no worker or monitor has yet (once) */
  private async readyToSubmit(): Promise<void> {
    await this.serverCheck();
    this.layoutWritten ??= checkLayout(this.redis, buildKeys(this.config).layout, this.config.partitions).catch((e: unknown) => {
      this.layoutWritten = undefined;
      throw e;
    });
    await this.layoutWritten;
    this.submitsReady = true;
  }

  /**
   * One submit, sent with the other submits of this tick in one submit.lua call of mode `each`
   * (a taken id refuses only its own task): a producer with many submits in flight pays one
   * script call, one write and one read per tick rather than one per task, as submitMany does.
   * Each is what it would be alone: its own id, its own DuplicateTaskError or NotDurableError.
   */
  private submitOne(sub: Submission): Promise<string> {
    return new Promise((resolve, reject) => {
      if (!this.coalesced) {
        this.coalesced = [];
        // (after this tick's promise reactions: a burst of replies that each submit again is one batch)
        // A call made before it in this turn of the event loop (a cancel, a pause) may not have
        // sent its command yet: from a timer or an I/O callback, nextTick runs before the
        // promise reactions that send it, and the submit, written at once, would reach Redis
        // first. Then the submits wait for the turn's end, where that command waits in the
        // auto-pipeline, and join it after it (src/scripts.ts `writesNow`).
        if (this.callsThisTurn) setImmediate(() => this.flushSubmits());
        else process.nextTick(() => this.flushSubmits());
      }
      this.coalesced.push({ sub, resolve, reject });
    });
  }

  /** send this tick's submits, in the order they were made, in calls of bounded weight (as submitMany's) */
  private flushSubmits(): void {
    const items = this.coalesced ?? [];
    this.coalesced = undefined;
    for (let i = 0; i < items.length; ) {
      const batch: Coalesced[] = [];
      let weight = 0;
      let bytes = 0;
      // (bytes too: a call's arguments are held whole in Redis while it runs, and large tasks
      // submitted together must not make one call of them all)
      for (; i < items.length; i++) {
        const w = weightOf(items[i]!.sub);
        const b = items[i]!.sub.raw.length;
        if (batch.length > 0 && (weight + w > SUBMIT_BATCH || bytes + b > SUBMIT_BATCH_BYTES)) break;
        weight += w;
        bytes += b;
        batch.push(items[i]!);
      }
      this.closeWaitsFor(this.submitEach(batch));
    }
  }

  /**
   * A batch of unrelated submits: each settles on its own (never rejects). Its script is written
   * now once the client is ready (a call made after it goes out after it), or else once it is,
   * after the batches before it; the calls made meanwhile wait for that (`issuing`).
   */
  private submitEach(items: Coalesced[]): Promise<void> {
    if (this.submitsReady && !this.issuing && !this.callsThisTurn) return this.submitEachReady(items);
    const { before, release: issued } = this.holdLater();
    // Sent now by a call made after them (a get, a submitMany, close()) in a turn where another
    // call was made before them (a cancel): that one's command is made only in this turn's
    // promise reactions. Written now, the submits would pass it; they wait for the turn's end.
    const turn = this.callsThisTurn ? new Promise<void>((r) => setImmediate(r)) : undefined;
    return (before ?? Promise.resolve()).then(() => turn).then(() => this.readyToSubmit()).then(
      () => {
        const sent = this.submitEachReady(items);
        issued();
        return sent;
      },
      (e: unknown) => {
        for (const x of items) x.reject(e);
        issued();
      },
    );
  }

  private async submitEachReady(items: Coalesced[]): Promise<void> {
    // One script per partition, each settling its own submits: one that fails (on a Cluster,
    // a shard down) must not reject those another partition queued.
    const byPart = new Map<number, Coalesced[]>();
    for (const x of items) {
      const p = this.partOf(x.sub.id);
      const list = byPart.get(p);
      if (list) list.push(x);
      else byPart.set(p, [x]);
    }
    await Promise.all([...byPart].map(([p, list]) => this.submitEachIn(p, list)));
  }

  /** submits of one partition in one submit.lua call of mode `each`; each settles on its own (never rejects) */
  private async submitEachIn(p: number, items: Coalesced[]): Promise<void> {
    let replies: Awaited<ReturnType<typeof submitTasks>>;
    try {
      replies = await submitTasks(
        this.redis,
        this.parts[p]!,
        items.map((x) => x.sub),
        'each',
        this.ownLimit ? undefined : CHECKED_OVER,
      );
    } catch (e) {
      const told = toldAfterResend(e, 'submit');
      for (const x of items) x.reject(told);
      return;
    }
    await Promise.all(items.map((x, i) => this.settleSubmit(x.sub, replies[i]!, p).then(x.resolve, x.reject)));
  }

  /** the id a submit of `t` in partition `p` resolves with, given what submit.lua did with it */
  private async settleSubmit(t: Submission, r: SubmitReply, p: number): Promise<string> {
    let id = t.id;
    if ('error' in r) throw r.error;
    if ('tooLarge' in r) throw tooLarge('submit', `task ${quote(t.id)}`, Buffer.byteLength(t.raw), { bytes: r.tooLarge, whose: 'workers' });
    if ('heldBy' in r) id = r.heldBy;
    // Refused: its id is taken. By this very submission, when its reply was lost and
    // ioredis sent it again after a reconnect: the entry is then ours, queued or claimed.
    else if (!r.queued && !(await this.holdEach([t]))[0]) throw new DuplicateTaskError(t.id);
    // (one WAIT per partition, shared by the submits waiting on it: src/effects/durable.ts; its
    // message built only then)
    if (this.config.durable) await replicated(this.redis, this.parts[p]!.newQueue, this.config, `submit of task ${quote(id)}`, [id]);
    return id;
  }

  /**
   * One batch of a submitMany: its ids, as answered. When it fails it throws an Unfinished that
   * says what became of each of its tasks (its shares over the partitions are scripts of their
   * own: one may have queued its tasks while another failed).
   */
  private async write(subs: Submission[]): Promise<string[]> {
    if (subs.length === 0) return [];
    const replies = await this.submitByPartition(subs);
    const refused = subs.filter((_, i) => { const r = replies[i]!; return !r.queued && 'taken' in r && r.taken; });
    if (refused.length === 0) return subs.map((t, i) => { const r = replies[i]!; return 'heldBy' in r ? r.heldBy : t.id; });
    // what each task's reply says of it, for an error below: a refused one is left to be told
    const fates = (refusedFate: (t: Submission) => Fate): Fate[] => subs.map((t, i) => (refused.includes(t) ? refusedFate(t) : replyFate(t, replies[i]!)));
    // Refused: an id is taken. By this very submission, when its reply was lost and ioredis
    // sent it again after a reconnect: the entries are then ours, queued or already claimed.
    let held: boolean[];
    try {
      held = await this.holdEach(refused);
    } catch (e) {
      throw new Unfinished(e, fates(() => 'unknown'));
    }
    const other = refused.find((_, i) => !held[i]);
    // (another partition's share may have queued its tasks meanwhile)
    if (other) throw new Unfinished(new DuplicateTaskError(other.id), fates((t) => (held[refused.indexOf(t)] ? { id: t.id } : 'not')));
    if (refused.length === subs.length) return subs.map((t) => t.id);
    // (a partition's share queued its tasks already, another's wrote nothing: written again,
    // the first are recognised as this call's own entries)
    const rest = subs.filter((t) => !refused.includes(t));
    let again: string[];
    try {
      again = await this.write(rest);
    } catch (e) {
      // (one the first write queued stays queued, whatever became of the second)
      const u = unfinished(e, rest);
      throw new Unfinished(u.cause, fates((t) => ({ id: t.id })).map((f, i) => (typeof f === 'object' ? f : u.fates[rest.indexOf(subs[i]!)]!)));
    }
    let j = 0;
    return subs.map((t) => (refused.includes(t) ? t.id : again[j++]!));
  }

  /** submit.lua in each partition the tasks go to, at once; the replies in the tasks' order (an Unfinished when a share failed) */
  private async submitByPartition(subs: Submission[]): Promise<Awaited<ReturnType<typeof submitTasks>>> {
    if (this.parts.length === 1) return submitTasks(this.redis, this.keys, subs);
    const byPart = new Map<number, number[]>();
    subs.forEach((t, i) => {
      const p = this.partOf(t.id);
      byPart.set(p, [...(byPart.get(p) ?? []), i]);
    });
    const out: Awaited<ReturnType<typeof submitTasks>> = new Array(subs.length);
    const shares = [...byPart];
    const settled = await Promise.allSettled(shares.map(([p, at]) => submitTasks(this.redis, this.parts[p]!, at.map((i) => subs[i]!))));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (!failed) {
      settled.forEach((s, j) => shares[j]![1].forEach((i, k) => (out[i] = (s as PromiseFulfilledResult<SubmitReply[]>).value[k]!)));
      return out;
    }
    // (the error told is one that did not come from a slot's move, if any: the move's refusal
    // says only that its share did not run, which the fates say too)
    const cause = (settled.find((s): s is PromiseRejectedResult => s.status === 'rejected' && !refusedMoving(s.reason)) ?? failed).reason;
    const fates: Fate[] = new Array(subs.length);
    settled.forEach((s, j) =>
      shares[j]![1].forEach((i, k) => {
        // (a taken id of a share that answered: its own entry, or another's, not told here)
        if (s.status === 'fulfilled') fates[i] = 'taken' in s.value[k]! && s.value[k]!.taken ? 'unknown' : replyFate(subs[i]!, s.value[k]!);
        else fates[i] = surelyNotRun(s.reason) ? 'not' : 'unknown';
      }),
    );
    throw new Unfinished(cause, fates);
  }

  /** the partition of task `id` */
  private partOf(id: string): number {
    return partitionOf(id, this.parts.length);
  }

  /** the keys of the partition that holds task `id` */
  private keysOf(id: string): Keys {
    return this.parts.length === 1 ? this.keys : this.parts[this.partOf(id)]!;
  }

  /** a new id, in the partition of its group or dedupe key when it has one */
  private readonly newId = (place?: string): string => drawTaskId(this.parts.length, place);

  /**
   * An id for a task to be submitted, drawn as `submit` draws one: in a partitioned swarm, in
   * the partition of the task's `group`, else of its dedupe `key` (give the ones the submit will
   * have: a submit of it with a group or key of another partition is refused, a ConfigError).
   * For subscribing to a task's events before it is queued, so that none is missed: an
   * id of one's own lands where it hashes, whatever its group (docs/deployments.md). Given to
   * `submit` as `options.id`, the task is written as one whose id `submit` drew (with the time
   * of its first submit, `queued_at`, for the pickup metric), the same entry at every submit of
   * it while it is among the client's last 10,000 drawn ids, counted from its first submit once
   * submitted (older ones are forgotten: a submit of one is written as an id of one's own,
   * without `queued_at`, and a resubmission of an entry written with it is then refused as a
   * duplicate; so is a submit of it by another client, or after a restart).
   */
  drawId(options: { group?: string; key?: string } = {}): string {
    if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new ConfigError('drawId: options must be an object');
    // (a misspelt one would draw the id for no place: the submit then refused it, or, in one
    // partition, took it where the group's tasks are not)
    for (const k of Object.keys(options)) if (k !== 'group' && k !== 'key') throw new ConfigError(`drawId: unknown option "${k}" (known: group, key)`);
    const { group, key } = options;
    if (group !== undefined) checkGroup('drawId: group', group);
    if (key !== undefined) checkKey('drawId: key', key);
    const id = this.newId(group ?? key);
    // (bounded, oldest forgotten first: a client drawing ids for good must not grow)
    if (this.drawn.size >= DRAWN_KEPT) this.drawn.delete(this.drawn.keys().next().value!);
    this.drawn.set(id, undefined);
    return id;
  }

  /**
   * A drawn id lies in the partition of the group or key it was drawn for, and a task lives in
   * its id's: submitted with a group or key of another partition, it would sit apart from that
   * group's tasks (its limit held per partition) and from that key's (a second task queued under
   * one dedupe key).
   */
  private checkDrawnPlace(sub: Submission, where: string): void {
    if (this.parts.length === 1 || !this.drawn.has(sub.id)) return;
    const place = sub.group !== '' ? sub.group : sub.key;
    if (place === undefined || partitionOfPlace(place, this.parts.length) === this.partOf(sub.id)) return;
    const what = sub.group !== '' ? `group ${JSON.stringify(sub.group)}` : `dedupe key ${JSON.stringify(sub.key)}`;
    throw new ConfigError(`${where}: task id ${quote(sub.id)} was drawn for another partition than its ${what}'s (give drawId the group and key the submit has)`);
  }

  /** ids drawId drew, and the time of their first submit (undefined until it) */
  private readonly drawn = new Map<string, number | undefined>();
  // (only read here: a submit refused before anything was sent must leave no time to the next,
  // which would write it as its queued_at; see `sending`)
  private readonly firstSubmitOf = (id: string, now: number): number | undefined => (this.drawn.has(id) ? (this.drawn.get(id) ?? now) : undefined);

  /**
   * Submissions built and checked whole, about to be sent: the drawn ids among them have their
   * first submit at `now` from here on. Kept in the same step as the build, before any wait: a
   * submit of one made after this may find this one's entry in Redis, and must be the same.
   */
  private sending(subs: readonly Submission[], now: number): void {
    for (const t of subs) {
      if (!this.drawn.has(t.id) || this.drawn.get(t.id) !== undefined) continue;
      // (made the newest: what is remembered is for a submit again, and an id held long before
      // its first would otherwise be among the next forgotten)
      this.drawn.delete(t.id);
      this.drawn.set(t.id, now);
    }
  }

  /**
   * Cancel a task: queued or delayed, it is removed and ends `cancelled` (never run); running,
   * it is sent a stop and ends `stopped`; ended, nothing is done. Rejects with a
   * TaskNotFoundError for a task Redis does not know.
   */
  async cancel(id: string): Promise<CancelResult> {
    checkId('cancel', id);
    await this.checkServer();
    const r = await cancelTask(this.redis, this.keysOf(id), id);
    if (r === 'unknown') throw new TaskNotFoundError(id);
    // (running: the script marked it and published its stop, in one step)
    return r === 'running' ? 'stopping' : r;
  }

  /**
   * Does Redis hold exactly each of these entries under its id: still queued, or claimed (its
   * hash's data)? One pipeline per partition, the partitions at once: a list refused whole asks
   * once, not once per entry. Not a MULTI: each LPOS may scan the whole ingress, and a thousand
   * of them in one would hold Redis for all of them. Asked in the order an entry moves (off the
   * ingress into its hash, in one claim script, and never back), the two reads need none: found
   * on neither, it was on neither.
   */
  private async holdEach(subs: readonly Submission[]): Promise<boolean[]> {
    const byPart = new Map<number, number[]>();
    subs.forEach((t, i) => {
      const p = this.partOf(t.id);
      const at = byPart.get(p);
      if (at) at.push(i);
      else byPart.set(p, [i]);
    });
    const held: boolean[] = new Array(subs.length);
    await Promise.all(
      [...byPart].map(async ([p, at]) => {
        const k = this.parts[p]!;
        const pipe = this.redis.pipeline();
        for (const i of at) pipe.lpos(k.newQueue, subs[i]!.raw).hget(k.task(subs[i]!.id), 'data');
        const replies = ((await pipe.exec()) ?? []) as [Error | null, unknown][];
        at.forEach((i, j) => {
          const [[e1, pos], [e2, data]] = [replies[2 * j]!, replies[2 * j + 1]!];
          // (a read that failed says nothing of the entry: not "another task's", which would
          // tell a call whose tasks are queued that they are not)
          if (e1 || e2) throw e1 ?? e2;
          held[i] = data === subs[i]!.raw || (pos !== null && pos !== undefined);
        });
      }),
    );
    return held;
  }

  /**
   * The task as Redis has it now, or null when unknown (never submitted, or expired). Whatever
   * the hash holds, this answers: content the runtime would not write is passed through as
   * stored, in `invalid`.
   */
  async get(id: string): Promise<TaskInfo | null> {
    checkId('get', id);
    const k = this.keysOf(id);
    const replies = await this.reading(() => readTogether(this.redis, (c) => c.hgetall(k.task(id)).sismember(k.queued, id)));
    const [hashError, h] = (replies[0] ?? [null, null]) as [Error | null, Record<string, string> | null];
    const queued = replies[1]?.[1] === 1;
    // A key of another type under the task's name (set by hand): say so rather than throw.
    if (hashError) return { id, state: '', attempt: 0, manualEnd: false, invalid: { key: hashError.message } };
    if (!h || Object.keys(h).length === 0) return queued ? { id, state: 'QUEUED', attempt: 0, manualEnd: false } : null;
    return this.letterKeyed(id, readHash(id, h));
  }

  /**
   * A parked task's dead-letter key as retryDead and purgeDead take it: with several partitions,
   * prefixed with the task's (`"2/17"`, as deadLetters lists it).
   */
  private letterKeyed(id: string, info: TaskInfo): TaskInfo {
    if (this.parts.length > 1 && info.parked && info.parked.key !== '') info.parked.key = `${this.partOf(id)}/${info.parked.key}`;
    return info;
  }

  /**
   * Follow one task's events; returns the unsubscribe function. Every message on the channel
   * reaches `onEvent` as a well-formed `{event, data, at}` (see `parseEvent`: junk arrives as
   * `event: 'raw'` with its text). A handler that throws is logged (once) and does not keep
   * the others from the event.
   */
  subscribe(id: string, onEvent: (ev: TaskEvent) => void): Unsubscribe {
    this.open('subscribe');
    checkId('subscribe', id);
    if (typeof onEvent !== 'function') throw new InvalidTaskError('subscribe: the handler must be a function');
    const channel = this.keysOf(id).events(id);
    const sub = this.subscriber();
    let set = this.handlers.get(channel);
    if (!set) {
      this.handlers.set(channel, (set = new Set()));
      const live = this.subscribeLive(sub, channel, set);
      // (handled here: a caller that never reads `ready` must not see an unhandled rejection;
      // the refusal is logged for it, and `ready` still rejects for one that awaits it)
      live.catch((e: Error) => this.log.warn(e.message));
      this.subscribed.set(channel, live);
    }
    // Wrapped, so that one function subscribed twice is two subscriptions, each removed once.
    const handler = (ev: TaskEvent) => onEvent(ev);
    set.add(handler);
    const off = () => {
      const s = this.handlers.get(channel);
      if (!s || !s.delete(handler)) return;
      if (s.size === 0) {
        this.handlers.delete(channel);
        this.subscribed.delete(channel);
        const unsent = this.unsent.get(channel);
        // its SUBSCRIBE never went out: nothing to leave (its subscribeLive ends)
        if (unsent) return void (this.unsent.delete(channel), unsent());
        // Redis away: left once it is back (ioredis resubscribes it then), once however often it
        // is left meanwhile, rather than a command queued each time for the outage's length
        if (sub.status !== 'ready') return void this.leaving.add(channel);
        // Held as a SUBSCRIBE is: sent during a reconnect's handshake, it went out before ioredis
        // resubscribed, once ready, what it had before the drop, this channel with it.
        subscribable(sub)
          .then(() => (this.handlers.has(channel) ? undefined : sub.unsubscribe(channel)))
          .catch(() => {});
      }
    };
    return Object.assign(off, { ready: this.subscribed.get(channel) ?? Promise.resolve() });
  }

  /**
   * Send `stop`, `reload` or a custom event `{event_name, event}` to a running task; or `watch`:
   * its worker publishes the task machine's state (`machine-state` events) now and on each
   * change for 30 s (send it again to go on). Rejects with a TaskNotFoundError for an id Redis
   * knows nothing about, as `cancel` does (a message published for it would reach no one).
   * A `stop` of a running task is also marked in its hash, as `cancel` marks it, so that it holds
   * when the message is lost; one between two attempts (a retry's backoff, or queued again after
   * its worker died or handed it back) is cancelled, in the same step (cancel.lua). Resolves with
   * what was done.
   */
  async control(id: string, message: ControlInput): Promise<ControlResult> {
    checkId('control', id);
    const text = formatControl(message);
    const k = this.keysOf(id);
    if (text === 'stop') {
      await this.checkServer();
      const r = await stopTask(this.redis, k, id);
      if (r === 'unknown') throw new TaskNotFoundError(id);
      return r === 'running' ? 'stopping' : r;
    }
    // (a hash, or an entry of the seed's kind still on new-task: in the queued set, no hash yet)
    const [[, hash], [, queued]] = (await this.reading(() => readTogether(this.redis, (c) => c.exists(k.task(id)).sismember(k.queued, id)))) as [[unknown, number], [unknown, number]];
    if (!hash && !queued) throw new TaskNotFoundError(id);
    await this.redis.publish(k.control(id), text);
    return 'sent';
  }

  /**
   * Resolve with the task once its hash says END (what `get` returns then); rejects with a
   * TimeoutError after `timeout` ms (which says so, and why, when Redis never answered a read of
   * the task: an address nothing listens on is not a slow task). The hash is the truth and every event is only a hint to
   * read it again: an `end` published by anyone else changes nothing while the hash says
   * otherwise. The hash is read when the subscription is in place, on every event of the task,
   * after every reconnect of the subscriber (events published meanwhile are gone) and every
   * `pollInterval` ms. When the hash is gone after the runtime's end event (cleaned up at once,
   * `endRetention: 0`), the answer comes from that event, marked `fromEndEvent`. `close()`
   * rejects a pending wait with a StateError.
   */
  async wait(id: string, options: WaitOptions = {}): Promise<TaskInfo> {
    this.open('wait');
    checkId('wait', id);
    if (options === null || typeof options !== 'object') throw new ConfigError('wait: options must be an object');
    // (a misspelt timeout would wait for ever)
    for (const k of Object.keys(options)) if (!WAIT_OPTIONS.includes(k)) throw new ConfigError(`wait: unknown option "${k}" (known: ${WAIT_OPTIONS.join(', ')})`);
    const timeout = options.timeout ?? 0;
    const pollInterval = options.pollInterval ?? 5000;
    const goneAfter = options.goneAfter ?? 30_000;
    if (typeof timeout !== 'number' || !(timeout >= 0) || timeout > MAX_TIMER) {
      throw new ConfigError(`wait: timeout must be a number of ms between 0 and ${MAX_TIMER}, got ${quote(timeout)}`);
    }
    if (typeof pollInterval !== 'number' || !(pollInterval >= 1) || pollInterval > MAX_TIMER) {
      throw new ConfigError(`wait: pollInterval must be a number of ms between 1 and ${MAX_TIMER}, got ${quote(pollInterval)}`);
    }
    if (typeof goneAfter !== 'number' || !(goneAfter >= 0) || goneAfter > MAX_TIMER) {
      throw new ConfigError(`wait: goneAfter must be a number of ms between 0 and ${MAX_TIMER}, got ${quote(goneAfter)}`);
    }
    // (the submits made before it sent now; its reads, through get(), go out after them)
    void this.submitsFirst();
    const channel = this.keysOf(id).events(id);
    const sub = this.subscriber();
    return new Promise<TaskInfo>((resolve, reject) => {
      let settled = false;
      let off = () => {};
      const poll = setInterval(() => read(), pollInterval);
      // (whether a read of the task was answered: a wait on a Redis never reached timed out as
      // if the task were slow, sending the user to the task, not to the address)
      let answered = false;
      let readError: unknown;
      const timer = timeout > 0 ? setTimeout(() => finish(() => reject(this.waitTimedOut(id, timeout, answered, readError))), timeout) : undefined;
      const finish = (settle: () => void) => {
        if (settled) return;
        settled = true;
        off();
        this.reconnects.delete(onReady);
        this.subRefused.delete(read);
        clearInterval(poll);
        clearTimeout(timer);
        clearTimeout(goneCheck);
        this.waits.delete(abandon);
        settle();
      };
      const abandon = () => finish(() => reject(new StateError(`the client was closed while waiting for task ${quote(id)}`)));
      this.waits.add(abandon);

      // One read at a time; a hint during a read asks for one more after it, so a chatty task
      // costs one read per round trip, not one per event.
      let reading = false;
      let again = false;
      let reads = 0;
      let lastSeen: TaskInfo | undefined;
      // The runtime's end event, and how many reads had begun when it came: only a read begun
      // after it can tell "gone after the end" from "not there yet" or "still running".
      let endEvent: { data: EndEventData; at: number; after: number } | undefined;
      // Since when every read has found the task gone, after it was seen (a read that failed
      // says nothing of it: the count starts again), and the read that judges it once
      // `goneAfter` has passed. A read is judged by when it was sent: its reply may come late
      // (a slow link, an event loop held), and says only that the task was gone when Redis ran
      // it, no later.
      let goneSince: number | undefined;
      let goneCheck: NodeJS.Timeout | undefined;
      const read = () => {
        if (settled) return;
        if (reading) {
          again = true;
          return;
        }
        reading = true;
        const n = ++reads;
        const sent = performance.now();
        this.get(id)
          .then(
            (t) => {
              answered = true;
              if (settled) return;
              const afterEnd = endEvent !== undefined && n > endEvent.after;
              if (t?.state === 'END') finish(() => resolve(t));
              // gone after an end: believed only for a task this wait has seen (queued, running);
              // for one it never saw (pushed by hand, not claimed yet) anyone could forge the end
              else if (t === null && afterEnd && lastSeen) finish(() => resolve(this.letterKeyed(id, fromEndEvent(id, endEvent!, lastSeen))));
              // (gone, and an end heard while this read was on its way: the read after it, asked
              // for by that end, answers)
              else if (t === null && lastSeen && goneAfter > 0 && !endEvent) {
                const now = performance.now();
                goneSince ??= now;
                if (sent - goneSince >= goneAfter) {
                  finish(() => reject(new TaskNotFoundError(id, `task ${quote(id)} is gone: seen ${lastSeen!.state}, then no record of it for ${showMs(sent - goneSince!)} and no end heard (deleted, its retention over, or lost by Redis and not re-asserted by a worker)`)));
                } else if (!goneCheck) {
                  goneCheck = setTimeout(() => {
                    goneCheck = undefined;
                    read();
                  }, goneSince + goneAfter - now);
                }
              } else if (t !== null) {
                goneSince = undefined;
                lastSeen = t;
                // The hash outlived that end and does not say END: it was not the runtime's.
                if (afterEnd) endEvent = undefined;
              }
            },
            // Redis away: the reconnect, the next event or the poll reads again. A partition
            // count not the swarm's, an ACL or a password Redis refuses: it never will.
            (e: unknown) => {
              goneSince = undefined;
              readError = e;
              if (e instanceof ConfigError || lastingRefusal(e)) finish(() => reject(e));
            },
          )
          .finally(() => {
            reading = false;
            if (again) {
              again = false;
              read();
            }
          });
      };
      // After a reconnect ioredis resubscribes by itself; our own SUBSCRIBE's reply, on the same
      // connection, says when the channel is live again, and then the hash tells what was missed.
      const onReady = () => {
        sub.subscribe(channel).then(read, read);
      };

      const subscription = this.subscribe(id, (ev) => {
        const end = parseEndEvent(ev, id);
        if (end) endEvent = { data: end, at: ev.at, after: reads };
        read();
      });
      off = subscription;
      this.reconnects.add(onReady);
      // A subscriber connection whose handshake Redis refuses (a password wrong or missing)
      // never turns ready, nor does the subscription: read now, and the read's refusal ends the
      // wait (it polled until its timeout, or for ever)
      this.subRefused.add(read);
      // Subscribed first, then read: an end between the two is seen by one or the other.
      subscription.ready.then(read, read);
    });
  }

  /** wait's TimeoutError: saying so when no read of the task was answered (Redis not reached), and why */
  private waitTimedOut(id: string, timeout: number, answered: boolean, readError: unknown): TimeoutError {
    const late = `task ${quote(id)} did not end within ${timeout} ms`;
    // (connected, no read failed: Redis is only slower than the timeout, not unreached)
    if (answered || (this.redis.status === 'ready' && readError === undefined)) return new TimeoutError(late);
    const socket = lastConnectionError(this.redis);
    const why = (socket ?? (readError instanceof Error ? readError : undefined))?.message.trim().replace(/\s*\n\s*/g, ' ');
    return new TimeoutError(`${late}: Redis at ${redisAddress(this.config)} never answered in that time (${why ?? 'no answer'})`, { cause: socket ?? readError });
  }

  /** Dead letters, newest first: `offset` skipped, at most `limit` (default 100). */
  async deadLetters(options: { limit?: number; offset?: number } = {}): Promise<DeadLetter[]> {
    if (options === null || typeof options !== 'object') throw new ConfigError('deadLetters: options must be an object');
    for (const k of Object.keys(options)) if (k !== 'limit' && k !== 'offset') throw new ConfigError(`deadLetters: unknown option "${k}" (known: limit, offset)`);
    const offset = options.offset ?? 0;
    const limit = options.limit ?? 100;
    for (const [name, v] of [['offset', offset], ['limit', limit]] as const) {
      if (!Number.isSafeInteger(v) || v < 0) throw new ConfigError(`deadLetters: ${name} must be a whole number >= 0, got ${showId(v)}`);
    }
    if (limit === 0) return this.checkReads().then(() => []);
    if (this.parts.length === 1) return (await this.reading(() => readDeadLetters(this.redis, this.keys, offset, limit))).letters;
    // each partition's newest offset + limit, merged newest first (their keys name their partition)
    const all = await this.reading(() => Promise.all(this.parts.map(async (k, p) => (await readDeadLetters(this.redis, k, 0, offset + limit)).letters.map((l) => ({ ...l, key: `${p}/${l.key}` })))));
    return all
      .flat()
      .sort((a, b) => (b.at || 0) - (a.at || 0))
      .slice(offset, offset + limit);
  }

  /** a dead letter's key as given back to us: its partition's keys and its key there */
  private deadLetterAt(key: string): { keys: Keys; key: string } {
    if (this.parts.length === 1) return { keys: this.keys, key };
    const m = /^(\d+)\/(.*)$/s.exec(key);
    const keys = m ? this.parts[Number(m[1])] : undefined;
    if (!m || !keys) throw new InvalidTaskError(`dead letter key ${JSON.stringify(key)} names no partition of this swarm (it has ${this.parts.length}: keys read "<partition>/<key>")`);
    return { keys, key: m[2]! };
  }

  /** One dead letter by its key, or null (retried, purged or dropped). */
  async deadLetter(key: string): Promise<DeadLetter | null> {
    const at = this.deadLetterAt(letterKey('deadLetter', key));
    const l = await this.reading(() => readDeadLetter(this.redis, at.keys, at.key));
    return l && { ...l, key };
  }

  /**
   * Put a dead letter's task back on the queue (a parked task's hash is reset to QUEUED, its
   * attempts to 0); false when no entry has that key any more. Exactly once, whoever calls; sent
   * again after a reconnect (its reply lost), it answers true, what its first run did. An entry
   * parked for what its own bytes are (not JSON, no id, no function, an option that is none:
   * `bad_option`), which a retry would only park again, is refused with an InvalidTaskError and
   * left for purgeDead.
   */
  async retryDead(letter: Pick<DeadLetter, 'key'> | string): Promise<boolean> {
    await this.checkServer();
    const at = this.deadLetterAt(letterKey('retryDead', letter));
    return retryDead(this.redis, at.keys, at.key);
  }

  /**
   * Delete a dead letter, and a parked task's hash with it; false when no entry has that key (sent
   * again after a reconnect, a call that deleted it answers true).
   */
  async purgeDead(letter: Pick<DeadLetter, 'key'> | string): Promise<boolean> {
    await this.checkServer();
    const at = this.deadLetterAt(letterKey('purgeDead', letter));
    return purgeDead(this.redis, at.keys, at.key);
  }

  /**
   * Counts for a status line: entries not routed yet (`queued`), claimed tasks, workers, dead
   * letters, manually ended; and per function: routed and waiting, running, the live workers
   * that serve it, paused. A function with queued tasks and no worker waits for one.
   */
  async stats(): Promise<SwarmStats> {
    if (this.parts.length === 1) return this.reading(() => this.statsOf(this.keys));
    // summed over the partitions; workers are listed in each (the same), paused is set in each
    const each = await this.reading(() => Promise.all(this.parts.map((k) => this.statsOf(k))));
    const out: SwarmStats = { queued: 0, tasks: 0, workers: each[0]!.workers, dead: 0, ended: 0, paused: each[0]!.paused, functions: dictionary() };
    for (const s of each) {
      out.queued += s.queued;
      out.tasks += s.tasks;
      out.dead += s.dead;
      out.ended += s.ended;
      for (const [fn, f] of Object.entries(s.functions)) {
        const o = (out.functions[fn] ??= { queued: 0, running: 0, delayed: 0, workers: f.workers, paused: f.paused });
        o.queued += f.queued;
        o.running += f.running;
        o.delayed += f.delayed;
        o.workers = Math.max(o.workers, f.workers);
      }
    }
    return out;
  }

  private async statsOf(k: Keys): Promise<SwarmStats> {
    const c = await swarmCounts(this.redis, k);
    const functions = dictionary<FunctionStats>();
    for (const [fn, f] of Object.entries(c.functions)) functions[fn] = { queued: f.queued, running: 0, delayed: f.delayed, workers: f.workers, paused: f.paused };
    // Running counts are kept only where a limit watches (lib/limits.lua): per function, they are
    // counted here from the lease index (the RUNNING tasks), O(tasks running).
    const ids = await this.redis.zrange(k.leases, 0, -1);
    if (ids.length) {
      const pipe = this.redis.pipeline();
      for (const id of ids) pipe.hmget(k.task(id), 'state', 'function');
      for (const [err, v] of (await pipe.exec()) ?? []) {
        const [state, fn] = (err ? [] : v) as (string | null)[];
        if (state === 'RUNNING' && fn) (functions[fn] ??= { queued: 0, running: 0, delayed: 0, workers: 0, paused: c.paused }).running++;
      }
    }
    return { queued: c.queued, tasks: c.tasks, workers: c.workers, dead: c.dead, ended: c.ended, paused: c.paused, functions };
  }

  /**
   * Set a swarm-wide limit on a function or a group (across functions): at most `concurrency`
   * tasks running at once, at most `rate.max` starts in any `rate.per` ms; enforced where tasks
   * start, in the claim script. `null` removes it. A ConfigError names what is wrong.
   */
  async setLimit(target: LimitTarget, limit: Limit | null): Promise<void> {
    await this.checkServer();
    // in every partition: each enforces it on its own tasks (docs/deployments.md, partitions);
    // all written now, so that a submit made after this call reaches each partition after it
    await allShares('setLimit', this.parts.map((k) => setLimit(this.redis, k, target, limit)));
  }

  /** The limits set, each with how many of its tasks run now (over every partition). */
  async limits(): Promise<LimitInfo[]> {
    if (this.parts.length === 1) return this.reading(() => readLimits(this.redis, this.keys));
    const each = await this.reading(() => Promise.all(this.parts.map((k) => readLimits(this.redis, k))));
    const running = new Map<string, number>();
    for (const list of each) for (const l of list) running.set(`${l.function ?? ''}\u0000${l.group ?? ''}`, (running.get(`${l.function ?? ''}\u0000${l.group ?? ''}`) ?? 0) + l.running);
    return each[0]!.map((l) => ({ ...l, running: running.get(`${l.function ?? ''}\u0000${l.group ?? ''}`) ?? l.running }));
  }

  /**
   * Queue a task for `fn` at every tick of `spec`: `{ cron, tz? }` (croner's syntax, 5 fields, 6
   * with seconds first or 7 with a year last; tz an IANA zone, default UTC) or `{ every: ms }`. The monitors fire it (at
   * least one must run), each tick once whatever their number, on Redis's clock; ticks missed
   * while none ran fire once, for the latest. Setting the same schedule again changes nothing
   * (`changed: false`); a changed one starts over from its next tick. Options: those of submit
   * but id, delay, runAt and key, plus `overlap` ('allow' | 'skip'). A ConfigError names what
   * is wrong, before anything is written.
   */
  async schedule(name: string, spec: ScheduleSpec, fn: string, data?: unknown, options: ScheduleOptions = {}): Promise<{ changed: boolean; next: number | null }> {
    const s = checkSchedule(name, spec, fn, data, options);
    // (the task of a tick as a monitor builds it: every tick's id is as long as this one's)
    const task = taskOf(s.name, s.def, 0);
    checkEntrySize(task, `schedule ${quote(s.name)}`, this.ownLimit, 'each task it queues');
    const ready = this.checkServer();
    // (awaited below, perhaps after the calls before it: a refusal meanwhile is not unhandled)
    ready.catch(() => {});
    // Its script is written after a round trip of its own (Redis's clock): the calls made after
    // it (a submit) wait until it is answered, not to reach Redis first.
    return this.holdingLater(async () => {
      await ready;
      // (the monitors fire it in this partition)
      await this.checkWorkersTake([task], () => `schedule ${quote(s.name)}`, () => this.keys, 'each task it queues');
      // (its due time read in the script's own step: read after it, it could be the next tick
      // of another client's schedule of that name, set in between)
      const set = await setSchedule(this.redis, this.keys, s.name, s.json, s.def.spec);
      this.lookWhoServes(`schedule ${quote(s.name)}`, [fn]);
      return set;
    });
  }

  /**
   * Once per function name (the first `UNSERVED_LOOKS` names), after a call queued work for it:
   * warn in the logger when workers run and none serves it (src/served-functions.ts). A look
   * that found no worker, or a listed one that has not said what it serves, says nothing, and
   * the name is looked at again at its next call from UNSERVED_LOOK_AGAIN_MS on (a producer
   * started with its workers submits before they are listed: its misspelt name was never
   * looked at again). Not awaited by the call; close() waits for it as it waits for its QUIT,
   * sent after it on the same connection (not before: a Redis that answers neither would cost
   * close() a second more). A read that fails says nothing.
   */
  private lookWhoServes(call: string, fns: readonly string[]): void {
    // (the room left counted before any is taken: one submitMany of many names takes no more than it)
    const now = performance.now();
    const unique = [...new Set(fns)].filter((fn) => typeof fn === 'string');
    const again = unique.filter((fn) => (this.looked.get(fn) ?? Infinity) <= now);
    const fresh = unique.filter((fn) => !this.looked.has(fn)).slice(0, Math.max(0, UNSERVED_LOOKS - this.looked.size));
    const names = [...again, ...fresh];
    if (names.length === 0 || this.closed) return;
    // (not looked at again until this look is answered, nor for a while after it said nothing)
    for (const fn of names) this.looked.set(fn, Infinity);
    const look = readServed(this.redis, this.keys).then((served) => {
      const undecided = served.workers === 0 || served.unknown > 0;
      for (const fn of names) {
        if (undecided) this.looked.set(fn, performance.now() + UNSERVED_LOOK_AGAIN_MS);
        const note = unservedNote(fn, served);
        if (note) this.log.warn(`${call}: ${note}`);
      }
    });
    const settled = look.catch(ignore);
    this.looks.add(settled);
    void settled.finally(() => this.looks.delete(settled));
  }

  /**
   * The calls made from now on wait (`issuing`, through submitsFirst) until `release` is called;
   * `before` is what the calls made before this one were held by.
   */
  private holdLater(): { before: Promise<void> | undefined; release: () => void } {
    const before = this.issuing;
    let release!: () => void;
    const issuing = new Promise<void>((r) => (release = r));
    this.issuing = issuing;
    void issuing.then(() => {
      if (this.issuing === issuing) this.issuing = undefined;
    });
    return { before, release };
  }

  /** `body`, which writes after a round trip of its own; the calls made after it wait until it settles (`issuing`) */
  private async holdingLater<T>(body: () => Promise<T>): Promise<T> {
    const { before, release: done } = this.holdLater();
    try {
      if (before) await before;
      return await body();
    } finally {
      done();
    }
  }

  /**
   * Remove a schedule: no tick of it fires from now on. Resolves false when none has that name
   * (sent again after a reconnect, a call that removed it answers true).
   */
  async unschedule(name: string): Promise<boolean> {
    const checked = checkScheduleName('unschedule', name);
    await this.checkServer();
    return removeSchedule(this.redis, this.keys, checked);
  }

  /** The schedules set, by name: when each fires next, and what its last firing queued. */
  async schedules(): Promise<ScheduleInfo[]> {
    return this.reading(() => readSchedules(this.redis, this.keys));
  }

  /**
   * The monitors that swept this swarm lately: each one's last sweep (Redis ms) and whether it is
   * active (swept within taskTimeout). One silent for two taskTimeouts is dropped from the list.
   */
  async monitors(): Promise<MonitorView[]> {
    return this.reading(async () => readMonitors(this.redis, this.keys, await redisTimeAt(this.redis, this.keys.monitorsSeen)));
  }

  /** Stop new claims across the swarm, or of one function; running tasks go on. */
  async pause(fn?: string): Promise<void> {
    const target = checkPauseTarget('pause', fn);
    await this.checkServer();
    // (every partition written now: a submit made after this call finds each paused)
    await allShares('pause', this.parts.map((k) => pause(this.redis, k, target)));
  }

  /**
   * Let claims go on; idle workers are woken at once. Resolves false when it was not paused (sent
   * again after a reconnect, a call that resumed it answers true: each partition's run records
   * its token).
   */
  async resume(fn?: string): Promise<boolean> {
    const target = checkPauseTarget('resume', fn);
    await this.checkServer();
    // (every partition written now, as pause does)
    const was = await allShares('resume', this.parts.map((k) => resume(this.redis, k, target)));
    return was.includes(true);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const abandon of [...this.waits]) abandon();
    // submits made before close() go out before the QUIT, and are answered (bounded, as the QUIT)
    if (this.coalesced) this.flushSubmits();
    if (this.submitting.size) await within(1000, Promise.allSettled([...this.submitting]));
    // the library being loaded again: the calls made before close() that it holds, and the
    // scripts it sends again, go out when it ends (src/script-line.ts); the QUIT after them
    const reload = reloading(this.redis);
    if (reload) await within(1000, reload);
    // QUIT is written at once, past what the auto-pipeline holds: the calls made before close()
    // whose commands wait there (a cancel) would be cut off (bounded, as the rest)
    await within(1000, this.pipelineSent());
    // Redis unreachable answers no QUIT (the subscriber retries for ever): bounded, then closed
    // (the looks made before close(), written before the QUIT: answered before it)
    await within(1000, Promise.allSettled([this.redis.quit(), this.sub?.quit(), ...this.looks]));
    this.unguard();
    this.redis.disconnect();
    this.sub?.disconnect();
    // (Redis unreachable: what still waits for a connection fails rather than waits for ever)
    endStranded(this.redis);
    if (this.sub) endStranded(this.sub);
  }

  /**
   * SUBSCRIBE `channel` for the handlers `current`, once the connection can take it; resolves
   * when Redis has answered, or the channel was left, or the client closed. A SUBSCRIBE that
   * ioredis failed while the connection was down (a reconnect's AUTH refused fails every command
   * it holds) is made again once it is ready: ioredis resubscribes only what Redis had answered.
   * One refused by Redis itself (a channel the ACL user may not read) is not: it rejects with a
   * ConfigError, so that `subscribe(...).ready` does not say the handlers will hear anything.
   */
  private async subscribeLive(sub: Connection, channel: string, current: Set<(ev: TaskEvent) => void>): Promise<void> {
    for (;;) {
      if (sub.status === 'end' || this.handlers.get(channel) !== current) return;
      // Not handed to a connection that is not ready: ioredis would hold it for as long as Redis
      // is away, and with it this call and the handlers it keeps, left or not (the channel's last
      // handler leaving wakes it, and nothing was sent). Ready again, ioredis has resubscribed
      // what Redis had answered before the drop.
      if (sub.status !== 'ready') {
        await new Promise<void>((resolve) => {
          this.unsent.get(channel)?.();
          this.unsent.set(channel, resolve);
        });
        continue;
      }
      await subscribable(sub);
      if (this.handlers.get(channel) !== current) return;
      try {
        await sub.subscribe(channel);
        return;
      } catch (e) {
        // (read again: the connection may have dropped while the SUBSCRIBE was out)
        const status: string = sub.status;
        if (status === 'end') return;
        if (status === 'ready') {
          throw new ConfigError(
            `subscribe: Redis refused SUBSCRIBE ${channel} (${(e as Error).message}): no event of that task will be heard; the Redis user needs that channel (an ACL "&" rule, docs/deployments.md)`,
          );
        }
        // (failed with the connection, a reconnect's AUTH refused: made again once it is ready)
      }
    }
  }

  /** the subscriber connection is ready, or has ended: what waited for it goes on */
  private wakeUnsent(): void {
    const wakers = [...this.unsent.values()];
    this.unsent.clear();
    for (const wake of wakers) wake();
  }

  private subscriber(): Connection {
    if (!this.sub) {
      // No retry limit: a SUBSCRIBE out when the connection dropped waits for Redis, rather than
      // fail after two reconnects and leave the channel unsubscribed for good (ioredis
      // resubscribes only what had been subscribed). One made while Redis is away is not handed
      // over until it is back (subscribeLive).
      this.sub = connect(this.config, 'subscriber', this.owner, { lazyConnect: false, maxRetriesPerRequest: null });
      // (a refusal waiting does not mend: the waits read now, and end with the read's refusal)
      this.sub.on('error', (e: unknown) => {
        if (lastingRefusal(e)) for (const read of [...this.subRefused]) read();
      });
      const sub = this.sub;
      this.sub.on('ready', () => {
        // (ioredis resubscribed, before this, what Redis had answered: left meanwhile, it goes now)
        for (const channel of this.leaving) if (!this.handlers.has(channel)) sub.unsubscribe(channel).catch(() => {});
        this.leaving.clear();
        this.wakeUnsent();
        for (const f of [...this.reconnects]) f();
      });
      this.sub.on('end', () => {
        this.leaving.clear();
        this.wakeUnsent();
      });
      // This runs inside ioredis's reply parser: a throw here would be uncaught and end the
      // process, so the parse is total and every handler is fenced.
      this.sub.on('message', (channel: string, message: string) => {
        const set = this.handlers.get(channel);
        if (!set) return;
        const ev = parseEvent(message);
        for (const h of [...set]) {
          // (total, as the listener must be: what was thrown may be a value the logger cannot
          // read, a revoked Proxy; the logger itself may throw)
          const report = (e: unknown) => {
            if (this.reported.has(h)) return;
            this.reported.add(h);
            const what = `a subscriber of ${channel} threw on a "${ev.event}" event (the other subscribers still got it; reported once)`;
            try {
              this.log.warn(what, e);
            } catch {
              try {
                this.log.warn(what, serializeError(e));
              } catch {
                // a logger that throws at every call: nothing left to tell it with
              }
            }
          };
          try {
            // an async handler's rejection would end the process as an unhandled rejection
            const r = h(ev) as unknown;
            if (r instanceof Promise) r.catch(report);
          } catch (e) {
            report(e);
          }
        }
      });
    }
    return this.sub;
  }
}

/**
 * The calls a Client's caller makes. Each answers Redis's refusals (an ACL's NOPERM, a full
 * Redis's OOM, a wrong password, a replica's READONLY) as the library's typed errors
 * (src/redis-refusal.ts), at this one edge: inside, a call's ReplyError says what it did (a
 * refused script did not run: src/call-fate.ts). test/client-refusals.test.ts keeps the list
 * every public async method of the class.
 */
export const CLIENT_CALLS = [
  'submit', 'submitMany', 'cancel', 'get', 'control', 'wait', 'deadLetters', 'deadLetter', 'retryDead', 'purgeDead',
  'stats', 'setLimit', 'limits', 'schedule', 'unschedule', 'schedules', 'monitors', 'pause', 'resume', 'close',
] as const satisfies readonly (keyof Client)[];

for (const name of CLIENT_CALLS) {
  const call = Client.prototype[name] as (this: Client, ...args: unknown[]) => Promise<unknown>;
  (Client.prototype as unknown as Record<string, unknown>)[name] = function (this: Client, ...args: unknown[]) {
    return call.apply(this, args).catch((e: unknown) => Promise.reject(toldRefusal(e, `Redis at ${redisAddress(this.config)}`)));
  };
}

/** a span of ms as a message gives it: ms below ten seconds, else seconds */
const showMs = (ms: number): string => (ms < 10_000 ? `${Math.round(ms)} ms` : `${Math.round(ms / 1000)} s`);

/** how many ids drawId remembers, drawn or submitted */
const DRAWN_KEPT = 10_000;

/**
 * the weight of one submit script call in submitMany (a task pushed on new-task weighs 1, one
 * written whole 4): enough to amortise the round trip, few enough ms of Redis per call
 */
const SUBMIT_BATCH = 1000;
/** at most this much task JSON (UTF-16 units) in one call of submits made together, unless one task alone is more */
const SUBMIT_BATCH_BYTES = 1 << 20;

/** a submit's share of a submit.lua call: a task written whole (placed, delayed, keyed) weighs more than one pushed on new-task */
const weightOf = (t: Submission): number => (t.group !== '' || t.priority !== 0 || t.due !== undefined || t.key !== undefined ? 4 : 1);

interface Coalesced {
  sub: Submission;
  resolve: (id: string) => void;
  reject: (e: unknown) => void;
}

const ignore = (): void => {};

/** what became of one task of a submitMany's batch that failed: queued (the id answered), surely not written, or not known */
type Fate = { id: string } | 'not' | 'unknown';

/** a batch of a submitMany that failed, with each of its tasks' fate (in the batch's order) */
class Unfinished {
  constructor(
    readonly cause: unknown,
    readonly fates: Fate[],
  ) {}
}

/** `e`, thrown by writing `subs`, as an Unfinished: one that is not says the same of all of them */
function unfinished(e: unknown, subs: readonly Submission[]): Unfinished {
  if (e instanceof Unfinished) return e;
  const fate: Fate = surelyNotRun(e) ? 'not' : 'unknown';
  return new Unfinished(e, subs.map(() => fate));
}

/** a task's fate by its reply from a share that answered */
function replyFate(t: Submission, r: SubmitReply): Fate {
  if (r.queued) return { id: t.id };
  return 'heldBy' in r ? { id: r.heldBy } : 'not';
}

/**
 * The error of a submitMany whose batch failed (`u`, its fates in `batch`'s order), after the
 * batches that answered `before`, with `after` never sent. When nothing was queued and the rest
 * is all of one kind (none ran; or none is known to have, as a lone submit's answer lost), the
 * failure as it is; else a PartlySubmittedError saying what became of each task.
 */
function partlySubmitted(before: readonly string[], batch: readonly Submission[], u: Unfinished, after: readonly Submission[]): unknown {
  const ids = [...before];
  const submitted = [...before];
  const notSubmitted: string[] = [];
  const unknown: string[] = [];
  // (a task whose dedupe key a task of this very batch holds shares that one's fate: refused
  // whole for a taken id, neither was written)
  const at = new Map(batch.map((t, i) => [t.id, i]));
  const fates = u.fates.map((f, i) => {
    const holder = typeof f === 'object' && f.id !== batch[i]!.id ? at.get(f.id) : undefined;
    return holder !== undefined && typeof u.fates[holder] !== 'object' ? u.fates[holder]! : f;
  });
  fates.forEach((f, i) => {
    const id = typeof f === 'object' ? f.id : batch[i]!.id;
    ids.push(id);
    (f === 'not' ? notSubmitted : f === 'unknown' ? unknown : submitted).push(id);
  });
  for (const t of after) {
    ids.push(t.id);
    notSubmitted.push(t.id);
  }
  // (a batch alone, sent again after its answer was lost and refused then: told so, see toldAfterResend)
  if (submitted.length === 0 && (unknown.length === 0 || notSubmitted.length === 0)) return toldAfterResend(u.cause, 'submitMany');
  const why = u.cause instanceof Error ? u.cause.message : String(u.cause);
  const lost = unknown.length ? `, ${unknown.length} not known (sent, the answer lost: they may be queued)` : '';
  return new PartlySubmittedError(
    `submitMany: ${submitted.length} of ${ids.length} tasks submitted, ${notSubmitted.length} not${lost}: ${why}; made again whole, ${unknown.length ? 'those submitted or not known could' : 'those submitted would'} be queued twice: submit again only those not submitted (error.notSubmitted)`,
    ids,
    submitted,
    notSubmitted,
    unknown,
    u.cause,
  );
}

/**
 * The shares of a call over several partitions, each settled: one refused by a slot's move
 * while another ran says the call ran in part (src/scripts.ts partlyRun), not that it did not.
 */
async function allShares<T>(what: string, shares: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(shares);
  const failed = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (!failed.length) return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
  const moved = failed.find((s) => refusedMoving(s.reason));
  const other = failed.find((s) => !refusedMoving(s.reason));
  // (a share ran and one was refused by the move: the call ran in part)
  if (moved && failed.length < settled.length) throw partlyRun(moved.reason, what, other?.reason);
  // (none ran for sure: a share that failed otherwise says what it knows, the ones refused by
  // the move did not run; every share refused by the move, none ran)
  throw (other ?? moved)!.reason;
}

/** setTimeout's largest delay (ms); a longer one fires at once */
const MAX_TIMER = 2 ** 31 - 1;

/** the key of a dead letter given as itself or as its key */
function letterKey(method: string, letter: unknown): string {
  const key = typeof letter === 'string' ? letter : letter !== null && typeof letter === 'object' ? (letter as { key?: unknown }).key : undefined;
  if (typeof key !== 'string' || key === '') throw new InvalidTaskError(`${method}: takes a dead letter or its key (a non-empty string), got ${showId(letter)}`);
  return key;
}

/** an id as submit takes it: a lone surrogate reaches Redis as U+FFFD, another task's id */
function checkId(method: string, id: unknown): asserts id is string {
  if (typeof id !== 'string' || id === '') throw new InvalidTaskError(`${method}: the task id must be a non-empty string, got ${showId(id)}`);
  checkIdText(method, id);
}

function showId(id: unknown): string {
  // (NaN and the infinities as themselves: JSON writes them as null)
  if (typeof id === 'number') return String(id);
  try {
    return JSON.stringify(id) ?? String(id);
  } catch {
    return typeof id;
  }
}

/** A task hash as TaskInfo; total: a field the runtime would not write goes to `invalid`. */
function readHash(id: string, h: Record<string, string>): TaskInfo {
  const invalid: Record<string, string> = {};
  const num = (field: string): number | undefined => {
    const v = h[field];
    if (v === undefined) return undefined;
    const n = v.trim() === '' ? NaN : Number(v);
    if (Number.isFinite(n)) return n;
    invalid[field] = v;
    return undefined;
  };
  const json = (field: string, valid: (v: unknown) => boolean = () => true): { value: unknown } | undefined => {
    const v = h[field];
    if (v === undefined) return undefined;
    try {
      const value: unknown = JSON.parse(v);
      if (valid(value)) return { value };
    } catch {
      // not JSON: passed through below
    }
    invalid[field] = v;
    return undefined;
  };
  // `raw` carries the entry as stored; `data` only when it is an entry (a parked one may not be).
  let data: unknown;
  if (h.data !== undefined) {
    try {
      data = taskData(parseEntry(h.data));
    } catch {
      data = undefined;
    }
  }
  const state = h.state ?? '';
  if (!STATES.has(state)) invalid.state = state;
  const info: TaskInfo = { id, state, attempt: num('attempt') ?? 0, manualEnd: h.manual_end === '1' };
  if (h.function !== undefined) info.function = h.function;
  if (h.group !== undefined) info.group = h.group;
  const priority = num('priority');
  if (priority !== undefined) info.priority = priority;
  if (h.worker !== undefined) info.worker = h.worker;
  const start = num('start');
  if (start !== undefined) info.start = start;
  const update = num('update');
  if (update !== undefined) info.update = update;
  const end = num('end');
  if (end !== undefined) info.end = end;
  if (h.outcome !== undefined) {
    if (isOutcome(h.outcome)) info.outcome = h.outcome;
    else invalid.outcome = h.outcome;
  }
  const result = json('result');
  if (result) info.result = result.value;
  const error = json('error', isStoredError);
  if (error) info.error = error.value as StoredError;
  const runAt = num('runAt');
  if (runAt !== undefined) info.runAt = runAt;
  if (h.reason === 'delay' || h.reason === 'retry') info.reason = h.reason;
  if (h.key !== undefined) info.key = h.key;
  const last = lastEventOf(info.state, info.end, h.last_event);
  if (last) info.lastEvent = last;
  else if (h.last_event !== undefined && info.state !== 'END') invalid.last_event = h.last_event;
  const history = json('history', (v) => Array.isArray(v) && v.every((r) => r !== null && typeof r === 'object' && !Array.isArray(r)));
  const records = history ? [...(history.value as AttemptRecord[])] : [];
  // The attempt that ended the task is the hash's own fields (lib/history.lua): added here,
  // unless a record is that attempt already (a retry cancelled in its backoff). Told by its
  // start too: a dead letter retried numbers its attempts from 1 again, its history kept.
  const recorded = records.some((r) => r.attempt === info.attempt && r.start === (info.start ?? null));
  if (state === 'END' && info.outcome && info.end !== undefined && info.attempt > 0 && !h.parked && !recorded) {
    const last: AttemptRecord = { attempt: info.attempt, worker: info.worker ?? '', start: info.start ?? null, end: info.end, outcome: info.outcome };
    if (info.outcome !== 'succeeded' && info.error) last.error = info.error;
    records.push(last);
  }
  if (records.length) info.history = records;
  if (h.parked !== undefined) info.parked = { reason: h.parked as DeadLetterReason, key: h.dead ?? '' };
  if (data !== undefined) info.data = data;
  if (h.data !== undefined) info.raw = h.data;
  if (Object.keys(invalid).length) info.invalid = invalid;
  return info;
}

/** The answer of `wait` when the hash was cleaned up right after the runtime's end event. */
function fromEndEvent(id: string, end: { data: EndEventData; at: number }, last: TaskInfo | undefined): TaskInfo {
  // The event names the attempt that ended and its worker; the last read may have seen an
  // earlier attempt (requeued, run again and cleaned up between two reads): what it saw of that
  // attempt (its worker, start, history) is not this one's, and is left out.
  const sameAttempt = end.data.attempt === undefined || end.data.attempt === last?.attempt;
  const info: TaskInfo = { id, state: 'END', attempt: end.data.attempt ?? last?.attempt ?? 0, manualEnd: last?.manualEnd ?? false, outcome: end.data.outcome, end: end.at, fromEndEvent: true };
  for (const k of sameAttempt ? (['function', 'worker', 'start', 'data', 'raw', 'history'] as const) : (['function', 'data', 'raw'] as const)) {
    if (last?.[k] !== undefined) (info as unknown as Record<string, unknown>)[k] = last[k];
  }
  if (end.data.worker !== undefined) info.worker = end.data.worker;
  if ('result' in end.data) info.result = end.data.result;
  if (end.data.error) info.error = end.data.error;
  if (end.data.parked !== undefined) info.parked = { reason: end.data.parked as DeadLetterReason, key: end.data.dead ?? '' };
  return info;
}

/** FCALLs that ioredis's auto-pipeline holds now, not written yet (0 when this ioredis keeps it otherwise) */
function heldScripts(redis: Connection): number {
  const held = (redis as unknown as { _autoPipelines?: Map<string, { _queue?: { name?: string }[] }> })._autoPipelines;
  if (!(held instanceof Map)) return 0;
  let n = 0;
  for (const pipeline of held.values()) for (const c of pipeline._queue ?? []) if (c.name === 'fcall') n++;
  return n;
}
