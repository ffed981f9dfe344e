/**
 * The swarm's state as a monitor's metrics (SWARM_METRICS of metric-catalog.ts): read from Redis
 * when the registry is read, in the one round trip (per partition) of src/effects/swarm-counts.ts
 * that `task-swarm status` reads too, summed over the partitions as status sums them. Every gauge of one scrape comes from the same read (prom-client
 * reads the metrics of a registry together: the first collector starts the read, the others
 * share it). A read that fails or takes too long leaves the gauges out of that scrape (absent,
 * rather than stale) and is counted; so are they while the monitor is not connected.
 */
import type { Counter, Gauge, Registry } from 'prom-client';
import { DEAD_LETTER_REASONS } from '../errors.js';
import type { Keys } from '../keys.js';
import type { Connection } from '../redis.js';
import { sumCounts, swarmCounts, type SwarmCounts } from '../effects/swarm-counts.js';
import { within } from '../within.js';
import { SWARM_METRICS } from './metric-catalog.js';
import { buildMetrics, type Collectors, type MetricOf } from './metric-set.js';

/** a scrape waits this long for Redis at most (Prometheus's default scrape timeout is 10 s) */
const READ_TIMEOUT_MS = 3000;

type Defs = typeof SWARM_METRICS;

/** `connected`: whether the monitor's connection is up (before start, and after stop, nothing is read) */
export function swarmGauges(registry: Registry, redis: Connection, parts: readonly Keys[], connected: () => boolean, onFailure: (e: unknown) => void): void {
  let reading: Promise<SwarmCounts | undefined> | undefined;
  const read = () =>
    (reading ??= (async () => {
      if (!connected()) return undefined;
      let error: unknown = new Error(`Redis did not answer within ${READ_TIMEOUT_MS} ms`);
      const counts = await within(
        READ_TIMEOUT_MS,
        Promise.all(parts.map((keys) => swarmCounts(redis, keys, true)))
          .then(sumCounts)
          .catch((e: unknown) => {
            error = e;
            return undefined;
          }),
      );
      if (!counts) onFailure(error);
      return counts;
    })().finally(() => (reading = undefined)));

  /**
   * the collector of `key`: it resets its metric and, when the read succeeded, sets it from the
   * counts; else leaves it without a sample (prom-client's reset gives a metric without labels a 0)
   */
  const from =
    <K extends keyof Defs>(key: K, set: (m: MetricOf<Defs[K]>, c: SwarmCounts) => void) =>
    async (m: MetricOf<Defs[K]>) => {
      const c = await read();
      m.reset();
      if (c) set(m, c);
      // (the swarm's metrics are counters and gauges: no histogram)
      else if (!('labels' in SWARM_METRICS[key])) (m as Counter | Gauge).remove();
    };
  const perFunction = (key: 'depth' | 'delayed' | 'functionWorkers', pick: (f: SwarmCounts['functions'][string]) => number) =>
    from(key, (m, c) => {
      for (const [fn, f] of Object.entries(c.functions)) m.set({ function: fn }, pick(f));
    });
  const deadStat = (key: 'parked' | 'dropped' | 'retried' | 'purged') =>
    from(key, (m, c) => {
      // every reason from 0, before any letter has it: Prometheus's increase() over a series
      // whose first sample is already 1 sees no increase, so the first letter parked for a
      // reason (on a swarm's first day, the first of all) would never fire an alert on it
      for (const reason of Object.keys(DEAD_LETTER_REASONS)) m.inc({ reason }, 0);
      for (const [k, n] of Object.entries(c.deadStats)) if (k.startsWith(`${key}:`)) m.inc({ reason: k.slice(key.length + 1) }, n);
    });
  const collectors: Collectors<Defs> = {
    entries: from('entries', (m, c) => m.set(c.queued)),
    depth: perFunction('depth', (f) => f.queued),
    delayed: perFunction('delayed', (f) => f.delayed),
    functionWorkers: perFunction('functionWorkers', (f) => f.workers),
    claimed: from('claimed', (m, c) => m.set(c.tasks)),
    workers: from('workers', (m, c) => m.set(c.workers)),
    paused: from('paused', (m, c) => {
      m.set({ function: '*' }, c.paused ? 1 : 0);
      for (const [fn, f] of Object.entries(c.functions)) m.set({ function: fn }, f.paused ? 1 : 0);
    }),
    dead: from('dead', (m, c) => m.set(c.dead)),
    endedManual: from('endedManual', (m, c) => m.set(c.ended)),
    parked: deadStat('parked'),
    dropped: deadStat('dropped'),
    retried: deadStat('retried'),
    purged: deadStat('purged'),
    mayEvict: from('mayEvict', (m, c) => m.set(c.evicting ? 1 : 0)),
    oldestLease: from('oldestLease', (m, c) => m.set(c.oldestLease === undefined ? 0 : Math.max(0, c.now - c.oldestLease) / 1000)),
  };
  buildMetrics(SWARM_METRICS, registry, collectors);
}
