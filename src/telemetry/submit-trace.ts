/**
 * A producer's side of a task's trace (task-spans.ts has the worker's): with an SDK registered,
 * Client.submit and submitMany make a `submit <fn>` span and write the context the worker's
 * claim spans take as their parent into each entry, as its `trace` field (what the application's
 * propagator injects: W3C `traceparent` and `tracestate` by default). A worker of an older
 * version ignores the field, as every field it does not know.
 *
 * The context written is the producer's active span's, when there is one: the task's spans are
 * its children, and the same task submitted again under the same span is the same entry (a
 * resubmission with the same id is then the same submission). Without an active span, it is the
 * submit span's, so the task still has one trace from its submit to its END.
 */
import { otelApi, tracer } from './otel.js';

export interface SubmitTrace {
  /** the entry's `trace` field, or undefined when the propagator writes nothing */
  carrier?: Record<string, string>;
  /** the submit settled: ids queued, or the error it rejected with */
  done(result: { ids: readonly string[] } | { error: unknown }): void;
}

/** the function of every task of a submitMany, or `many`: the name its submit span takes */
export function batchFunction(tasks: readonly unknown[]): string {
  const fns = new Set(tasks.map((t) => (t !== null && typeof t === 'object' ? String((t as { fn?: unknown }).fn) : '')));
  return fns.size === 1 ? [...fns][0]! : 'many';
}

/** `fn()` names the span; undefined when tracing is off (no API, or no SDK registered) */
export function submitTrace(name: () => string, count: number): SubmitTrace | undefined {
  const t = tracer();
  const api = otelApi();
  if (!t || !api) return undefined;
  const fn = name();
  const active = api.context.active();
  const span = t.startSpan(`submit ${fn}`, {
    kind: api.SpanKind.PRODUCER,
    attributes: { 'messaging.system': 'task_swarm', 'messaging.operation.name': 'send', 'messaging.destination.name': fn, 'messaging.batch.message_count': count },
  }, active);
  const producer = api.trace.getSpanContext(active);
  const carrier: Record<string, string> = {};
  try {
    api.propagation.inject(producer && api.trace.isSpanContextValid(producer) ? active : api.trace.setSpan(active, span), carrier);
  } catch {
    // a propagator that throws leaves the entry without a context, and the submit goes on
  }
  return {
    carrier: Object.keys(carrier).length ? carrier : undefined,
    done(result) {
      if ('error' in result) {
        const e = result.error;
        if (e instanceof Error) span.recordException(e);
        span.setStatus({ code: api.SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
      } else if (result.ids.length === 1) span.setAttribute('messaging.message.id', result.ids[0]!);
      span.end();
    },
  };
}
