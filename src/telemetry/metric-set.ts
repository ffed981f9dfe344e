/**
 * A family of the catalog (metric-catalog.ts) as prom-client metrics, registered in one
 * Registry: one per Worker or Monitor, never prom-client's global one, so that two workers of
 * one process count apart. `collect` gives a metric a function prom-client runs when it is read
 * (a scrape, `metrics()`): the values that are cheaper to compute then than to keep up to date.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { MetricDef } from './metric-catalog.js';
import { BucketHistogram } from './bucket-histogram.js';

export type MetricOf<D extends MetricDef> = D['type'] extends 'counter' ? Counter : D['type'] extends 'gauge' ? Gauge : BucketHistogram;
export type MetricSet<S extends Record<string, MetricDef>> = { [K in keyof S]: MetricOf<S[K]> };
export type Collectors<S extends Record<string, MetricDef>> = { [K in keyof S]?: (metric: MetricOf<S[K]>) => void | Promise<void> };

export function buildMetrics<S extends Record<string, MetricDef>>(defs: S, registry: Registry, collectors: Collectors<S> = {}): MetricSet<S> {
  const out: Partial<Record<keyof S, Counter | Gauge | BucketHistogram>> = {};
  for (const key of Object.keys(defs) as (keyof S)[]) {
    const d = defs[key]!;
    if (d.type === 'histogram') {
      // (kept by the caller per label set, fed on the hot path: bucket-histogram.ts)
      if ((d.labels?.length ?? 0) > 1 || collectors[key]) throw new Error(`histogram ${d.name}: at most one label, and no collect`);
      out[key] = new BucketHistogram(d.name, d.help, d.buckets ?? [], d.labels?.[0], registry);
      continue;
    }
    const fn = collectors[key] as ((m: Counter | Gauge) => void | Promise<void>) | undefined;
    const config = {
      name: d.name,
      help: d.help,
      labelNames: d.labels ?? [],
      registers: [registry],
      ...(fn && {
        collect(this: Counter | Gauge) {
          return fn(this);
        },
      }),
    };
    out[key] = d.type === 'counter' ? new Counter(config) : new Gauge(config);
  }
  return out as MetricSet<S>;
}
