/**
 * What a monitor tells its metrics (MONITOR_METRICS of metric-catalog.ts): each sweep's results
 * and time, each requeue call's time, the schedules it fired, its machine's state; and, read from
 * Redis at each scrape, the swarm's counts (swarm-gauges.ts). One registry per monitor.
 */
import type { EventEmitter } from 'node:events';
import { Registry } from 'prom-client';
import type { Keys } from '../keys.js';
import type { Connection } from '../redis.js';
import type { LoggerLike } from '../logger.js';
import { monitorMachine, type FiringResult, type SweepResult } from '../../machines/monitor.js';
import { MONITOR_METRICS } from './metric-catalog.js';
import { buildMetrics, type MetricSet } from './metric-set.js';
import { stateGauge } from './machine-states.js';
import { MetricsEndpoint } from './metrics-server.js';
import { swarmGauges } from './swarm-gauges.js';

export class MonitorTelemetry {
  readonly registry = new Registry();
  private readonly m: MetricSet<typeof MONITOR_METRICS>;
  private readonly endpoint: MetricsEndpoint;

  constructor(
    private readonly config: { taskTimeout: number; metricsPort?: number; metricsHost: string },
    redis: Connection,
    /** every partition's keys (src/partitions.ts) */
    parts: readonly Keys[],
    log: LoggerLike,
    /** emits `state` on each transition of the monitor machine (src/state-events.ts) */
    owner: EventEmitter,
  ) {
    this.endpoint = new MetricsEndpoint(this.registry, config);
    const state = stateGauge(monitorMachine.root);
    owner.on('state', (value: unknown) => state.set(value));
    this.m = buildMetrics(MONITOR_METRICS, this.registry, { state: (m) => state.collect(m) });
    this.m.taskTimeout.set(config.taskTimeout / 1000);
    let reported = 0;
    swarmGauges(
      this.registry,
      redis,
      parts,
      () => redis.status === 'ready',
      (e) => {
        this.m.readFailures.inc();
        // a scraper every few seconds would repeat it: once a minute is enough to say why
        if (Date.now() - reported < 60_000) return;
        reported = Date.now();
        log.warn(`metrics: could not read the swarm's counts from Redis: ${e instanceof Error ? e.message : String(e)}`);
      },
    );
  }

  /** the monitor starts: the metrics server listens, when `metricsPort` is set (rejects with a ListenError) */
  async start(log: LoggerLike): Promise<void> {
    await this.endpoint.open(log);
  }

  get url(): string | undefined {
    return this.endpoint.url;
  }

  async close(): Promise<void> {
    await this.endpoint.close();
  }

  /** one requeue call to Redis took `ms` */
  requeueCall(ms: number): void {
    this.m.redisRoundTrip.observe(ms / 1000);
  }

  /** silent workers taken out of the worker list */
  pruned(count: number): void {
    if (count) this.m.pruned.inc(count);
  }

  /** a sweep (of every partition) ended, after `ms`, with `r` */
  swept(r: SweepResult, ms: number): void {
    this.m.sweepTime.observe(ms / 1000);
    if (r.behind) this.m.behind.inc();
    this.m.backlog.set(r.backlog ?? 0);
    this.m.hold.set((r.graceLeft ?? 0) / 1000);
  }

  /**
   * what one call of a sweep did, counted as it answers: done in Redis then, whatever follows
   * (a failure that cuts the sweep short), and before the sweep's other calls (a task requeued
   * may have run to its end by the time the sweep is over)
   */
  counted(r: Pick<SweepResult, 'requeued' | 'parked' | 'reaped'>): void {
    if (r.requeued.length) this.m.requeued.inc(r.requeued.length);
    if (r.parked.length) this.m.parked.inc(r.parked.length);
    if (r.reaped) this.m.cleaned.inc(r.reaped);
  }

  fired(r: FiringResult): void {
    for (const f of r.firings) this.m.firings.inc({ outcome: f.outcome });
  }
}
