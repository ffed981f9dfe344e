/**
 * Monitor: the public class. Provides the effects of machines/monitor.ts: the sweep
 * (requeue.lua + reap.lua), the schedules' firing (fire-schedule.lua), the peer probe and the
 * Redis watch.
 */
import { randomBytes } from 'node:crypto';
import { Cluster, ReplyError } from 'ioredis';
import type { Connection } from './redis.js';
import { createActor, fromPromise, waitFor, type Actor } from 'xstate';
import { monitorMachine, sweepCap, type FiringResult, type SweepResult } from '../machines/monitor.js';
import { hasQuorum } from '../machines/quorum.js';
import { onRefused } from './db-select.js';
import { MONITOR_FIELDS, resolveMonitorConfig, type MonitorConfig, type ProcessOptions } from './config.js';
import { StateError } from './errors.js';
import { buildKeys, type Keys } from './keys.js';
import { checkLayout } from './effects/layout.js';
import { partitionKeys } from './partitions.js';
import { OutageLines } from './outage-lines.js';
import { createLogger, effectErrorReporter, type LoggerLike } from './logger.js';
import { emitStates, tell } from './state-events.js';
import { connect, connectionOwner, NOT_READY, redisAddress, refusedDb, redisTimeAt, swarmAt, unavailable } from './redis.js';
import { checkServer, serverRunIds } from './server-version.js';
import { reapEnded, requeueStale } from './effects/sweep.js';
import { trimDeadLetters } from './effects/dead-letters.js';
import { fireDue } from './effects/schedules.js';
import { markStopped } from './effects/monitors.js';
import { within } from './within.js';
import { raisedInScript } from './call-fate.js';
import { listWorkers } from './effects/registry.js';
import { probePeers } from './peer-prober.js';
import { awaitRedis, redisWatch } from './redis-watch.js';
import { ticker } from '../actors/ticker.js';
import { MonitorTelemetry } from './telemetry/monitor-telemetry.js';
import { MeteredProcess } from './telemetry/metered-process.js';
import { dictionary } from './dictionary.js';
import { quote } from './quote.js';

export type MonitorOptions = ProcessOptions<typeof MONITOR_FIELDS>;

/** tasks handled per script call, so one call never holds Redis for long (a few ms) */
const SWEEP_BATCH = 1000;
/**
 * One sweep calls again while work is left, for up to this long; past it, the sweep ends with
 * `behind` set and the next one starts at once, so the machine stays responsive (STOP, Redis
 * lost) and no rate of ends the workers can produce outruns the cleanup for long.
 */
const SWEEP_BUDGET_MS = 200;
/**
 * How long start() waits for its first connection. Through sentinels that all fail (down, or
 * `name` misspelt) ioredis's connect() neither resolves nor rejects: it asks them again and
 * again; start() then rejects with the sentinels' last error (unavailable()).
 */
const START_CONNECT_MS = 5000;

function connectWithin(redis: Connection, ms: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no connection within ${ms} ms${redis instanceof Cluster ? `: ${NOT_READY}` : ''}`)), ms);
    // ready, however it got there: a Cluster's connect() stays pending for good once its ready
    // check (CLUSTER INFO, sent to any node) meets a node that is down, though the reconnect
    // that follows gets ready
    const ready = () => done();
    const done = (e?: Error) => {
      clearTimeout(timer);
      redis.off('ready', ready);
      if (e) reject(e);
      else resolve();
    };
    redis.once('ready', ready);
    redis.connect().then(() => done(), done);
  });
}
/**
 * A requeue call that Redis ran more than taskTimeout / LATE_SWEEP_SHARE after the monitor sent
 * it (by Redis's clock as the monitor last read it, and its own since) waited in a link gone
 * silent: it is judged as at that long after it was sent, and read as a loss of Redis (Monitor
 * `sweepPartition`). A worker cut off as the call was sent, its last heartbeat less than
 * heartbeatInterval before, is then stale by no more than heartbeatInterval + taskTimeout / 4:
 * never, with heartbeatInterval at most taskTimeout / 4 as the worker is told to keep it. A fixed
 * second was too tight for a long taskTimeout (a Redis stalled a second or two by a fork, read as
 * a loss) and too loose for one of a second or less.
 */
const LATE_SWEEP_SHARE = 4;
/** a sweep or a firing Redis refused is tried again no sooner than this (Monitor `refusedAt`) */
const REFUSED_RETRY_MS = 1000;
/** a partition's refused sweep is logged at most this often (it is tried again every REFUSED_RETRY_MS) */
const REFUSED_LOG_MS = 30_000;

/** what one partition's sweep returns besides what it did (gathered in the sweep's result as its calls answer) */
interface PartitionSweep {
  backlog: number;
  behind: boolean;
  now: number;
  nextDeadline: number;
  graceLeft: number;
}
/** a monitor that stays behind says so at most this often */
const BEHIND_LOG_MS = 30_000;

export class Monitor extends MeteredProcess {
  readonly config: MonitorConfig;
  readonly name = `monitor-${randomBytes(3).toString('hex')}`;
  /** partition 0's keys: the workers list and the schedules (with one partition, everything) */
  private readonly keys: Keys;
  /** every partition's keys (src/partitions.ts) */
  private readonly parts: Keys[];
  /** the partition the next sweep starts with */
  private nextPartition = 0;
  private readonly log: LoggerLike;
  /** how it says an outage: once, and a refusal as one (src/outage-lines.ts) */
  private readonly outage: OutageLines;
  private readonly redis: Connection;
  private peers: string[] = [];
  private actor?: Actor<typeof monitorMachine>;
  private startError?: unknown;
  private holding = false;
  /** when each partition's refused sweep was last logged (sayRefused) */
  private readonly refusedLogged = new Map<number, number>();
  /** the run ids of the servers holding the swarm's partitions, when last asked (undefined: one names none) */
  private serverId?: string;
  /**
   * When a sweep or a firing Redis refused (it answered with an error: OOM at maxmemory, a key of
   * the wrong type), or that failed with the connection up, last failed (refusable): the wait
   * for Redis that follows holds its first ask until REFUSED_RETRY_MS after it (awaitRedis
   * `holdMs`). Redis answers PING and INFO as the same
   * server at once, and the monitor, active again, swept again: hundreds of refused sweeps a
   * second, each with its probe of every worker and its lines in the log.
   */
  private refusedAt?: number;
  /** per partition, Redis's clock (ms) as its last requeue call read it, and ours (performance.now()) then */
  private clocks = new WeakMap<Keys, { redis: number; local: number }>();
  private behindLogged = 0;
  /** metrics (src/telemetry/monitor-telemetry.ts) */
  protected readonly telemetry: MonitorTelemetry;

  constructor(options: MonitorOptions = {}) {
    super();
    this.config = resolveMonitorConfig(options);
    this.parts = partitionKeys(this.config.redis);
    this.keys = this.parts[0]!;
    this.log = createLogger(this.name, options.logger);
    this.outage = new OutageLines(this.log, 'monitor', () => this.redis.status === 'ready');
    this.redis = connect(this.config.redis, 'command', `${this.name}-${connectionOwner()}`, { commandTimeout: 5000 });
    this.redis.on('error', (e: Error) => this.log.debug(`redis: ${e.message}`));
    // (at start the refusal fails start() itself; once running, the monitor waits as for a Redis
    // that is down, and says why once, rather than sweep db 0: src/db-select.ts)
    onRefused(this.redis, `Redis at ${redisAddress(this.config.redis)}`, (refused) => {
      if (this.actor && !this.actor.getSnapshot().matches('starting')) this.log.error(`${refused.message}: this monitor waits as for a Redis that is down, until the server has the database again`);
    });
    this.telemetry = new MonitorTelemetry(this.config, this.redis, this.parts, this.log, this);
  }

  get state(): unknown {
    return this.actor?.getSnapshot().value ?? 'idle';
  }

  async start(): Promise<void> {
    if (this.actor?.getSnapshot().status === 'done') throw new StateError(`this monitor has stopped (or failed to start), and does not start again: make a new Monitor`);
    if (this.actor) throw new StateError('monitor already started');
    const actor = createActor(this.machine(), {
      input: {
        taskTimeout: this.config.taskTimeout,
        checkTaskInterval: this.config.checkTaskInterval,
        partitionPercentage: this.config.partitionPercentage,
        fetchWorkerInterval: this.config.fetchWorkerInterval,
      },
    });
    this.actor = actor;
    emitStates(actor, this, this.log, 'monitor');
    // (it said Redis was unreachable; it says when Redis answers again, and what it waits for then)
    let away = false;
    actor.subscribe((snap) => {
      if (snap.matches('probing') || snap.matches('waiting') || snap.matches('paused')) away = true;
      else if (away && snap.matches('grace')) {
        away = false;
        const g = snap.context.grace;
        // (one begun anew has neither: its first sweep is still to come)
        if (g?.until !== undefined && g.seen !== undefined) this.outage.ends(`Redis answers again, the same server: the grace under way goes on, at most ${Math.max(0, g.until - g.seen)} ms more`);
        else this.outage.ends(`Redis answers again, another server or one that names none (it may have lost data): nothing is requeued or fired for ${this.config.taskTimeout} ms (taskTimeout), while the workers heartbeat and re-assert their tasks`);
      } else if (away && snap.matches('active')) {
        away = false;
        this.outage.ends(`Redis answers again, the same server: a task whose lease was live when it was lost is not requeued for ${this.config.taskTimeout} ms (taskTimeout), while its worker heartbeats`);
      } else if (snap.matches('active')) away = false;
    });
    try {
      await this.telemetry.start(this.log);
    } catch (e) {
      // never started: nothing to stop
      this.actor = undefined;
      this.redis.disconnect();
      throw e;
    }
    actor.start();
    const s = await waitFor(actor, (x) => x.matches('active') || x.status === 'done', { timeout: Infinity });
    if (s.matches('failed')) {
      this.redis.disconnect();
      await this.telemetry.close();
      throw this.startError instanceof Error ? this.startError : new StateError('monitor failed to start');
    }
    const { taskTimeout, checkTaskInterval } = this.config;
    // (sweeps are at most taskTimeout/4 apart, machines/monitor.ts sweepDelay: said when that is less)
    const cap = sweepCap(this.config);
    const capped = checkTaskInterval > cap ? ` (sweeps at most ${Math.max(1, cap)} ms apart: taskTimeout/4)` : '';
    this.log.info(`started (${swarmAt(this.config.redis)}): taskTimeout ${taskTimeout} ms, checkTaskInterval ${checkTaskInterval} ms${capped}`);
  }

  async stop(): Promise<void> {
    const actor = this.actor;
    if (!actor || actor.getSnapshot().status === 'done') return;
    actor.send({ type: 'STOP' });
    await waitFor(actor, (x) => x.status === 'done', { timeout: Infinity });
    this.outage.close();
  }

  /**
   * Sweep every partition (one, unless redis.partitions says more), from the next one in turn
   * each time, within one time budget: a partition the budget did not reach is swept first
   * next time, at once (`behind`). `heldFrom`: requeue only what was stale then (requeue.lua).
   *
   * What each call did is in Redis once it answers: it is counted then (the metrics), gathered,
   * and said (logged, told on the `sweep` event) even when a later call fails, before the
   * failure goes on to the machine. A partition whose call Redis refuses from inside the script
   * (a key of it damaged by hand: WRONGTYPE) is that partition's trouble: the others are swept,
   * and it is tried again within REFUSED_RETRY_MS; so is a lone partition, the monitor staying
   * active (schedules fire). Any other failure is the sweep's: the machine takes it for Redis's
   * trouble.
   */
  private async sweep(requeue: boolean, heldFrom?: number): Promise<SweepResult> {
    const clock = performance.now();
    const out: SweepResult = { requeued: [], parked: [], reaped: 0, backlog: 0, behind: false, dropped: dictionary(), now: 0, nextDeadline: -1, graceLeft: 0 };
    try {
      await this.sweepParts(requeue, heldFrom, out);
    } catch (e) {
      out.failures = [...(out.failures ?? []), (e as Error).message];
      if (out.requeued.length || out.parked.length || out.reaped || Object.keys(out.dropped ?? {}).length) this.sayDone(out);
      throw e;
    }
    this.telemetry.swept(out, performance.now() - clock);
    return out;
  }

  private async sweepParts(requeue: boolean, heldFrom: number | undefined, out: SweepResult): Promise<void> {
    const started = Date.now();
    const timeLeft = () => Date.now() - started < SWEEP_BUDGET_MS;
    const n = this.parts.length;
    const first = this.nextPartition++ % n;
    let refused: unknown;
    let answered = 0;
    for (let i = 0; i < n; i++) {
      if (i > 0 && !timeLeft()) {
        out.behind = true;
        // (this one first next time)
        this.nextPartition = first + i;
        break;
      }
      const index = (first + i) % n;
      let r: PartitionSweep;
      const sent = { at: performance.now() };
      try {
        r = await this.sweepPartition(this.parts[index]!, requeue, timeLeft, heldFrom, out, sent);
      } catch (e) {
        if (!raisedInScript(e)) throw e;
        // A refusal answered later than a late requeue call may have waited in a link gone
        // silent, as that call would have: read as a loss of Redis, as it (the refusal tells no
        // Redis time to judge it by; its round trip bounds it). Taken for the partition's own
        // trouble, the loss went unnoticed, and the next partition's call, sent after the heal
        // and not late, requeued the live tasks of the workers cut off with the monitor
        // (test/monitor-sweep-refused-silent-link.test.ts).
        const took = Math.round(performance.now() - sent.at);
        if (took > this.lateMs()) throw new Error(`Redis refused a sweep call ${took} ms after it was sent (more than taskTimeout/${LATE_SWEEP_SHARE}): the link was silent, or Redis stalled (${(e as Error).message})`);
        refused ??= e;
        (out.failures ??= []).push(n > 1 ? `partition ${index}: ${(e as Error).message}` : (e as Error).message);
        this.sayRefused(index, e as Error);
        continue;
      }
      answered++;
      out.backlog = (out.backlog ?? 0) + r.backlog;
      out.behind ||= r.behind;
      out.now = Math.max(out.now, r.now);
      if (r.nextDeadline >= 0) out.nextDeadline = out.nextDeadline < 0 ? r.nextDeadline : Math.min(out.nextDeadline, r.nextDeadline);
      out.graceLeft = Math.max(out.graceLeft ?? 0, r.graceLeft);
    }
    // Every partition refused (one, damaged): still the partitions' trouble, not Redis's, which
    // answers; its clock read on its own (a failure there is Redis's, and the sweep's), and the
    // monitor stays active, schedules firing.
    if (refused !== undefined && answered === 0) out.now = await redisTimeAt(this.redis, this.parts[first]!.taskSet);
    // (a refused partition is asked again within REFUSED_RETRY_MS: the sweeps in between may be far apart)
    if (refused !== undefined) out.nextDeadline = out.nextDeadline < 0 ? out.now + REFUSED_RETRY_MS : Math.min(out.nextDeadline, out.now + REFUSED_RETRY_MS);
    if (out.behind) out.nextDeadline = out.now;
  }

  /** a partition's sweep refused from inside its script, logged as an error once per REFUSED_LOG_MS per partition */
  private sayRefused(index: number, e: Error): void {
    const last = this.refusedLogged.get(index);
    if (last !== undefined && Date.now() - last < REFUSED_LOG_MS) return;
    this.refusedLogged.set(index, Date.now());
    const which = this.parts.length > 1 ? ` of partition ${index}` : '';
    this.log.error(`the sweep${which} was refused by Redis (${e.message}): its stale tasks wait until it is mended; the other partitions are swept, and it is tried again every second`);
  }

  /** a requeue call Redis ran more than this after it was sent is late (LATE_SWEEP_SHARE) */
  private lateMs(): number {
    return Math.max(1, Math.floor(this.config.taskTimeout / LATE_SWEEP_SHARE));
  }

  /**
   * One partition's sweep. What each call requeued, parked, cleaned up or dropped goes into
   * `out` as the call answers (done in Redis whatever follows); the rest is returned.
   */
  private async sweepPartition(
    keys: Keys,
    requeue: boolean,
    timeLeft: () => boolean,
    heldFrom: number | undefined,
    out: SweepResult,
    /** when its latest call was sent (performance.now()): a refusal's lateness is judged by it (sweepParts) */
    sent: { at: number },
  ): Promise<PartitionSweep> {
    const { config } = this;
    let nextDeadline = -1;
    let now = 0;
    let graceLeft = 0;
    let behind = false;
    if (requeue) {
      for (;;) {
        const called = performance.now();
        sent.at = called;
        // A call written as the link goes silent waits in it, and runs when the link heals: with
        // no more than this, judged then, it requeued the tasks of the workers cut off with the
        // monitor, live, before they were back (test/monitor-hold-silent-partition.test.ts).
        // It is judged no later than taskTimeout / LATE_SWEEP_SHARE after it was sent.
        const late = this.lateMs();
        const clock = this.clocks.get(keys);
        const by = clock && Math.floor(clock.redis + (called - clock.local) + late);
        const judged = by === undefined ? heldFrom : heldFrom === undefined ? by : Math.min(heldFrom, by);
        const r = await requeueStale(this.redis, keys, config.taskTimeout, SWEEP_BATCH, config.maxAttempts, this.name, judged);
        // (Redis's clock paired with the time the call was sent, not the time its answer came:
        // the answer's way back and our event loop's wait to read it are no wait in the link, and
        // paired with the answer they counted against the next call, which a link slow each way
        // (over 1 s a round trip) read as late every time: the monitor never swept, never fired,
        // test/monitor-hold-late-sweep-slow-link.test.ts. A call's own time on its way to Redis
        // counts as the next one's only in what it exceeds this one's.)
        this.clocks.set(keys, { redis: r.now, local: called });
        // (done in Redis, late or not: said with the sweep's, and its prunes, refusals and
        // cancellations logged, test/monitor-sweep-cut-reported.test.ts)
        out.requeued.push(...r.requeued);
        out.parked.push(...r.parked);
        this.telemetry.counted({ requeued: r.requeued, parked: r.parked, reaped: 0 });
        this.telemetry.pruned(r.pruned.length);
        if (r.pruned.length) this.log.warn(`took ${r.pruned.length} silent worker(s) out of the worker list: ${r.pruned.slice(0, 20).join(', ')}`);
        if (r.refused.length) {
          (out.failures ??= []).push(...r.refused);
          this.log.error(`could not requeue ${r.refused.length} stale task(s): Redis refused to put them back (a key of their function's queue damaged?); they stay RUNNING and are tried again a taskTimeout on: ${r.refused.slice(0, 5).join('; ')}`);
        }
        if (r.cancelled.length) this.log.info(`ended ${r.cancelled.length} stale task(s) cancelled while they ran, as cancelled: ${r.cancelled.slice(0, 20).join(', ')}`);
        // (and the monitor lost Redis meanwhile, though no close said so: a hold from its last
        // sweep before, as for any loss; what this call requeued was stale when it was sent)
        if (by !== undefined && r.now > by) {
          throw new Error(`Redis ran a sweep ${r.now - by + late} ms after it was sent (more than taskTimeout/${LATE_SWEEP_SHARE}): the link was silent, or Redis stalled`);
        }
        this.telemetry.requeueCall(performance.now() - called);
        ({ nextDeadline, now, graceLeft } = r);
        if (!r.more) break;
        if (!timeLeft()) {
          behind = true;
          break;
        }
      }
    } else {
      sent.at = performance.now();
      now = await redisTimeAt(this.redis, keys.taskSet);
    }
    let backlog = 0;
    for (;;) {
      sent.at = performance.now();
      const r = await reapEnded(this.redis, keys, config.endRetention, SWEEP_BATCH);
      out.reaped += r.reaped;
      this.telemetry.counted({ requeued: [], parked: [], reaped: r.reaped });
      backlog = r.left;
      if (backlog === 0) break;
      if (!timeLeft()) {
        behind = true;
        break;
      }
    }
    const dropped = (out.dropped ??= dictionary());
    for (;;) {
      sent.at = performance.now();
      const t = await trimDeadLetters(this.redis, keys, config.deadLetterMax, config.deadLetterRetention, SWEEP_BATCH);
      for (const [reason, n] of Object.entries(t.dropped)) dropped[reason] = (dropped[reason] ?? 0) + (n ?? 0);
      if (!t.more) break;
      if (!timeLeft()) {
        behind = true;
        break;
      }
    }
    // Work left over: come straight back (the machine sleeps until nextDeadline).
    if (behind) nextDeadline = now;
    return { backlog, behind, now, nextDeadline, graceLeft };
  }

  /**
   * `effect`, its failure noted when Redis answered it with an error, or when it failed with the
   * connection still up (a timeout, an error of our own reading a reply): refusedAt. A failure
   * that came with the connection's loss is not: Redis back after a blip is asked for at once.
   */
  private async refusable<T>(effect: () => Promise<T>): Promise<T> {
    try {
      const r = await effect();
      this.refusedAt = undefined;
      this.outage.answered();
      return r;
    } catch (e) {
      this.outage.failed(e);
      if (e instanceof ReplyError || this.redis.status === 'ready') this.refusedAt = performance.now();
      throw e;
    }
  }

  /**
   * Whether Redis answers from the servers it did when last asked (their run ids, one per
   * partition's node): a server that names none, or cannot be asked, is not the same. What
   * answered is remembered.
   */
  private async sameServer(): Promise<{ sameServer: boolean }> {
    // (within: a failure or no answer in time reads as undefined)
    const id = await within(this.config.pingTimeout, serverRunIds(this.redis, this.parts.map((k) => k.taskSet)));
    const same = id !== undefined && id === this.serverId;
    if (id !== undefined) this.serverId = id;
    // (another server's clock is its own: a first sweep there is not read as late by the last one's)
    if (!same) this.clocks = new WeakMap();
    return { sameServer: same };
  }

  /** what a sweep did, logged and told on the `sweep` event (also when a failure cut it short: sweep) */
  private sayDone(r: SweepResult): void {
    const { log, config } = this;
    if (r.requeued.length) log.warn(`requeued ${r.requeued.length} stale task(s): ${r.requeued.slice(0, 20).join(', ')}`);
    if (r.parked.length) log.error(`parked ${r.parked.length} task(s) that exhausted maxAttempts: ${r.parked.join(', ')}`);
    if (r.reaped) log.debug(`cleaned up ${r.reaped} ended task(s)`);
    const dropped = Object.entries(r.dropped ?? {});
    if (dropped.length) {
      log.warn(`dead-letter retention (deadLetterMax ${config.deadLetterMax}, deadLetterRetention ${config.deadLetterRetention} ms) dropped ${dropped.map(([reason, n]) => `${n} ${reason}`).join(', ')}`);
    }
    tell(this, 'sweep', r, log, 'the sweep event');
  }

  private machine() {
    const { config, keys, log } = this;
    return monitorMachine.provide({
      actors: {
        connect: fromPromise(async () => {
          try {
            await connectWithin(this.redis, START_CONNECT_MS);
            const server = await checkServer(this.redis, `Redis at ${redisAddress(config.redis)}`, buildKeys(config.redis).layout);
            if (server.eviction) log.warn(server.eviction);
            this.serverId = await serverRunIds(this.redis, this.parts.map((k) => k.taskSet));
            await checkLayout(this.redis, buildKeys(config.redis).layout, config.redis.partitions);
            this.peers = await listWorkers(this.redis, keys, (m) => log.warn(m));
          } catch (e) {
            this.startError = unavailable(config.redis, this.redis, e);
            throw this.startError;
          }
        }),
        sweep: fromPromise(({ input }: { input: { requeue: boolean; heldFrom?: number } }) => this.refusable(() => this.sweep(input.requeue, input.heldFrom))),
        fireSchedules: fromPromise(() => this.refusable(() => fireDue(this.redis, keys, this.name))),
        probePeers: fromPromise(async () => {
          const p = await probePeers(this.peers, config.pingTimeout, config.secret);
          const why = refusedDb(this.redis, config.redis);
          // (what the count decides, said with it, as a worker does: "0 of 0 workers (need 60%)" read as a failed quorum)
          const decision = hasQuorum(p, config.partitionPercentage) ? 'waits for Redis, down for everyone' : 'is cut off: requeues nothing until Redis answers';
          const what = this.outage.what;
          this.outage.begins(p.total === 0 ? `${what}${why}; no worker known to ask: ${decision}` : `${what}${why}; reached ${p.reached} of ${p.total} workers (need ${config.partitionPercentage}%): ${decision}`);
          return p;
        }),
        redisWatch: redisWatch(this.redis, { home: buildKeys(config.redis).layout }),
        awaitRedis: awaitRedis(
          this.redis,
          250,
          config.pingTimeout,
          buildKeys(config.redis).layout,
          () => (this.refusedAt === undefined ? 0 : this.refusedAt + REFUSED_RETRY_MS - performance.now()),
          () => this.sameServer(),
        ),
        refreshPeers: ticker(
          config.fetchWorkerInterval,
          async () => {
            this.peers = await listWorkers(this.redis, keys, (m) => log.warn(m));
          },
          (e) => log.debug(`worker list refresh failed: ${(e as Error).message}`),
        ),
        disconnect: fromPromise(async () => {
          // (bounded: with Redis away, its entry turns silent a taskTimeout on, as before)
          await within(1000, markStopped(this.redis, this.parts, this.name));
          await within(1000, this.redis.quit());
          this.redis.disconnect();
          await this.telemetry.close();
          log.info('stopped');
        }),
      },
      actions: {
        reportSweep: ({ event }) => {
          const r = (event as unknown as { output: SweepResult }).output;
          this.sayDone(r);
          if (r.behind && Date.now() - this.behindLogged > BEHIND_LOG_MS) {
            this.behindLogged = Date.now();
            log.warn(`sweep is behind: ${r.backlog ?? 0} ended task(s) still wait for cleanup; sweeping again at once`);
          }
          if (r.graceLeft && !this.holding) log.warn(`no worker heartbeat and no sweep for over taskTimeout/2 (an outage?): holding requeues for ${r.graceLeft} ms`);
          this.holding = Boolean(r.graceLeft);
        },
        reportFiring: ({ event }) => {
          const r = (event as unknown as { output: FiringResult }).output;
          this.telemetry.fired(r);
          for (const f of r.firings) {
            const at = new Date(f.tick).toISOString();
            if (f.outcome === 'fired') log.info(`schedule ${quote(f.name)}: fired the tick of ${at} (task ${quote(f.id)})`);
            else if (f.outcome === 'duplicate') log.warn(`schedule ${quote(f.name)}: the tick of ${at} was fired already (task ${quote(f.id)} exists; Redis lost the schedule's mark?): not queued again`);
            else if (f.outcome === 'skipped') log.info(`schedule ${quote(f.name)}: skipped the tick of ${at}: task ${quote(f.id)} still queued or running (overlap 'skip')`);
            else if (f.outcome === 'failed') log.error(`schedule ${quote(f.name)}: the tick of ${at} was refused by Redis (${f.reason ?? '?'}): its task may not be queued; the schedule goes on`);
            else log.error(`schedule ${quote(f.name)}: its stored definition is invalid (${f.reason ?? '?'}): it will not fire until set again`);
          }
          if (r.firings.length) tell(this, 'schedules', r, log, 'the schedules event');
        },
        reportError: effectErrorReporter(log, 'monitor', (e) => e !== undefined && e === this.startError, (text) => this.outage.warn(text)),
      },
    });
  }
}
