/**
 * What a worker tells its metrics and traces: the worker calls one hook per thing that happens
 * (a claim, a run, an END, a heartbeat...), and this file turns it into prom-client metrics
 * (metric-catalog.ts, WORKER_METRICS) in the worker's own registry and into spans (task-spans.ts).
 *
 * The per-task hooks are on the worker's hot path, whose CPU per task is a tracked benchmark: the
 * counters they touch are plain numbers per function, handed to prom-client only when the
 * registry is read (a `collect`); what a task costs here is those increments, a
 * performance.now() around each run and two histogram observations. Whatever is cheaper to
 * compute at a scrape than to keep (tasks running, task machines by state, heartbeat lag) is
 * computed then, from the worker's own memory: a scrape never reaches Redis.
 */
import type { EventEmitter } from 'node:events';
import { Registry } from 'prom-client';
import type { LocalTask } from '../task.js';
import type { LoggerLike } from '../logger.js';
import { workerMachine } from '../../machines/worker.js';
import type { TaskOutcome } from '../../machines/task.js';
import { WORKER_METRICS } from './metric-catalog.js';
import { buildMetrics, type MetricSet } from './metric-set.js';
import { stateGauge, valuePaths } from './machine-states.js';
import { MetricsEndpoint } from './metrics-server.js';
import { TaskSpans, type RunScope } from './task-spans.js';
import type { Series } from './bucket-histogram.js';
import { tracer } from './otel.js';

/** what the worker lets the collectors read when the registry is read */
export interface WorkerView {
  address(): string;
  /** the tasks it holds */
  tasks(): Iterable<LocalTask>;
  /** the state value of each live task machine */
  taskStates(): Iterable<unknown>;
}

/** per function: the label set (made once), the counts the counters are given when read, and its histograms' series */
interface FunctionCounts {
  labels: { function: string };
  pickup: Series;
  runTime: Series;
  claimed: number;
  succeeded: number;
  failed: number;
  stopped: number;
  retried: number;
  abandoned: number;
}

const ENDED = ['succeeded', 'failed', 'stopped'] as const;

/** what a run reports when it settles (metrics, and its span when traced) */
export interface RunObserver {
  /** run the function (in its span's context, when traced) */
  call?: RunScope['call'];
  settled(error?: unknown): void;
}

export class WorkerTelemetry {
  readonly registry = new Registry();
  private readonly m: MetricSet<typeof WORKER_METRICS>;
  private readonly functions = new Map<string, FunctionCounts>();
  private readonly spans: TaskSpans;
  /** claims already counted as duplicate runs (one claim can have several writes refused) */
  private readonly duplicates = new WeakSet<LocalTask>();
  /** performance.now() when Redis last confirmed a heartbeat (or the worker started; 0: not started) */
  private lastRenewal = 0;
  private readonly endpoint: MetricsEndpoint;

  constructor(
    private readonly config: { concurrency: number; metricsPort?: number; metricsHost: string },
    private readonly view: WorkerView,
    /** emits `state` on each transition of the worker machine (src/state-events.ts) */
    owner: EventEmitter,
  ) {
    this.endpoint = new MetricsEndpoint(this.registry, config);
    const state = stateGauge(workerMachine.root);
    owner.on('state', (value: unknown) => state.set(value));
    const counter =
      (pick: (c: FunctionCounts) => number) =>
      (m: MetricSet<typeof WORKER_METRICS>['claimed']) => {
        m.reset();
        for (const c of this.functions.values()) if (pick(c) > 0) m.inc(c.labels, pick(c));
      };
    this.m = buildMetrics(WORKER_METRICS, this.registry, {
      info: (m) => {
        m.reset();
        m.set({ address: view.address() }, 1);
      },
      claimed: counter((c) => c.claimed),
      retried: counter((c) => c.retried),
      abandoned: counter((c) => c.abandoned),
      ended: (m) => {
        m.reset();
        for (const c of this.functions.values()) for (const outcome of ENDED) if (c[outcome] > 0) m.inc({ ...c.labels, outcome }, c[outcome]);
      },
      running: (m) => {
        m.reset();
        const n = new Map<string, number>();
        for (const t of view.tasks()) n.set(t.entry.function, (n.get(t.entry.function) ?? 0) + 1);
        for (const [fn, count] of n) m.set({ function: fn }, count);
      },
      taskStates: (m) => {
        m.reset();
        const n = new Map<string, number>();
        for (const value of view.taskStates()) for (const s of valuePaths(value)) n.set(s, (n.get(s) ?? 0) + 1);
        for (const [state, count] of n) m.set({ state }, count);
      },
      heartbeatLag: (m) => m.set(this.lastRenewal ? (performance.now() - this.lastRenewal) / 1000 : 0),
      state: (m) => state.collect(m),
    });
    this.m.concurrency.set(config.concurrency);
    this.spans = new TaskSpans(view.address);
  }

  /**
   * The worker starts: the heartbeat lag counts from now until a first heartbeat, and the
   * metrics server listens, when `metricsPort` is set (rejects with a ListenError).
   */
  async start(log: LoggerLike): Promise<void> {
    this.lastRenewal = performance.now();
    await this.endpoint.open(log);
  }

  get url(): string | undefined {
    return this.endpoint.url;
  }

  /** the worker is done: open spans end, the metrics server closes */
  async close(): Promise<void> {
    this.spans.closeAll();
    await this.endpoint.close();
  }

  private counts(fn: string): FunctionCounts {
    let c = this.functions.get(fn);
    if (!c) {
      c = { labels: { function: fn }, pickup: this.m.pickup.series(fn), runTime: this.m.runTime.series(fn), claimed: 0, succeeded: 0, failed: 0, stopped: 0, retried: 0, abandoned: 0 };
      this.functions.set(fn, c);
    }
    return c;
  }

  /**
   * A claim of `t`, made at `now` (Redis ms). Its first claim (the lease of claim number 1)
   * carries how long it waited, when its producer wrote when it queued it (`queued_at`).
   */
  claimed(t: LocalTask, now: number): void {
    const c = this.counts(t.entry.function);
    c.claimed++;
    // (a lease is `<claims>.<token>:<worker>`, claim.lua; `<claims>:<worker>` claimed without a token)
    const first = t.lease.startsWith('1.') || t.lease.startsWith('1:');
    const queuedAt = t.entry.queued_at;
    if (first && typeof queuedAt === 'number' && Number.isFinite(queuedAt)) c.pickup.observe(Math.max(0, now - queuedAt) / 1000);
    const traces = tracer();
    if (traces) this.spans.claimed(traces, t, now, first);
  }

  /** `t` was claimed and is handed back without running here (a claim answered too late) */
  handedBack(t: LocalTask): void {
    this.spans.handedBack(t);
  }

  /** a run of `t`'s function starts */
  run(t: LocalTask): RunObserver {
    const start = performance.now();
    const runTime = this.counts(t.entry.function).runTime;
    const scope = this.spans.run(t);
    return {
      call: scope?.call,
      settled: (error) => {
        runTime.observe((performance.now() - start) / 1000);
        scope?.settled(error);
      },
    };
  }

  /** `t`'s END write goes out */
  ending(t: LocalTask, outcome: TaskOutcome): void {
    this.spans.ending(t, outcome);
  }

  /** Redis answered `t`'s END: written, or refused by the fence */
  ended(t: LocalTask, outcome: TaskOutcome, written: boolean): void {
    if (written) {
      const c = this.counts(t.entry.function);
      if (outcome === 'retry') c.retried++;
      else c[outcome]++;
    } else this.lost('end', [t]);
    this.spans.endWritten(t, written, outcome);
  }

  /** `t`'s task machine let it go: ended, or abandoned (nothing written) */
  released(t: LocalTask, outcome: TaskOutcome | undefined, abandoned: boolean, error: unknown): void {
    if (abandoned) this.counts(t.entry.function).abandoned++;
    this.spans.released(t, outcome, abandoned, error);
  }

  /** a heartbeat is sent for `tasks`: each lease's age now */
  renewing(tasks: Iterable<LocalTask>): void {
    const now = performance.now();
    for (const t of tasks) this.m.leaseAge.observe((now - Math.max(this.lastRenewal, t.claimedAt ?? now)) / 1000);
  }

  /** one heartbeat call to Redis (one per partition) took `ms` */
  renewCall(ms: number): void {
    this.m.redisRoundTrip.observe(ms / 1000);
  }

  /** Redis confirmed the heartbeat (in every partition) */
  renewed(): void {
    this.lastRenewal = performance.now();
  }

  /** writes of these claims were refused: their lease had passed on (the task was requeued) */
  lost(write: 'heartbeat' | 'event' | 'end', tasks: readonly LocalTask[]): void {
    if (tasks.length === 0) return;
    this.m.fenced.inc({ write }, tasks.length);
    for (const t of tasks) {
      if (this.duplicates.has(t)) continue;
      this.duplicates.add(t);
      this.m.duplicateRuns.inc();
    }
  }

  /** tasks given back to the queue by this worker */
  requeued(reason: 'stop_grace' | 'lost_reply' | 'aborted_claim', count: number): void {
    if (count > 0) this.m.requeued.inc({ reason }, count);
  }

  eventsDropped(count: number): void {
    this.m.eventsDropped.inc(count);
  }
}
