/**
 * What a Worker and a Monitor share as processes an operator scrapes: their metrics, read from
 * their own prom-client registry, and where `metricsPort` serves them (docs/metrics.md).
 */
import { EventEmitter } from 'node:events';
import type { Registry } from 'prom-client';

export abstract class MeteredProcess extends EventEmitter {
  protected abstract readonly telemetry: { readonly registry: Registry; readonly url: string | undefined };

  /** this process's metrics in Prometheus's text format (docs/metrics.md) */
  metrics(): Promise<string> {
    return this.telemetry.registry.metrics();
  }

  /** the prom-client registry of this process's metrics (its own: merge it into an app's with Registry.merge) */
  get metricsRegistry(): Registry {
    return this.telemetry.registry;
  }

  /** where the metrics are served (`metricsPort`), once started: `http://host:port/metrics` */
  get metricsUrl(): string | undefined {
    return this.telemetry.url;
  }
}
