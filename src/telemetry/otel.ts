/**
 * OpenTelemetry's API, when the application has it: an optional peer dependency, loaded the
 * first time it is asked for, and never required. Without the package, or with it and no SDK
 * registered (no tracer provider), `tracer()` answers undefined and the callers make no span and
 * add nothing to the entries: tracing then costs a property read per task.
 *
 * The API keeps its providers on globalThis, so this copy sees what the application registered
 * through its own (another build of the same major version included).
 */
import { createRequire } from 'node:module';
import type * as Api from '@opentelemetry/api';

export type OtelApi = typeof Api;

let api: OtelApi | null | undefined;
/** the delegate of a proxy provider no SDK was given: this copy's no-op provider */
let noop: Api.TracerProvider | undefined;
/**
 * Where the API keeps what an SDK registered, on globalThis: its key for major version 1, the
 * only one the peer dependency allows (">=1.3.0 <2").
 */
const REGISTRY = Symbol.for('opentelemetry.js.api.1');

/** the API, or undefined when it cannot be loaded from here */
export function otelApi(): OtelApi | undefined {
  if (api === undefined) {
    try {
      api = createRequire(import.meta.url)('@opentelemetry/api') as OtelApi;
      noop = new api.ProxyTracerProvider().getDelegate();
    } catch {
      api = null;
    }
  }
  return api ?? undefined;
}

/** Task Swarm's tracer, when an SDK is registered; undefined otherwise (tracing off) */
export function tracer(): Api.Tracer | undefined {
  const a = otelApi();
  if (!a) return undefined;
  // No tracer provider registered (the usual case): one property read, where asking the API
  // walks its global registry and version check, on every submit and every claimed task.
  if (!(globalThis as Record<symbol, { trace?: unknown } | undefined>)[REGISTRY]?.trace) return undefined;
  const provider = a.trace.getTracerProvider() as Partial<Api.ProxyTracerProvider> & Api.TracerProvider;
  // a provider that only proxies the no-op one: nothing would record a span
  if (typeof provider.getDelegate === 'function' && provider.getDelegate() === noop) return undefined;
  return provider.getTracer('task-swarm');
}
