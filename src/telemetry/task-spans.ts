/**
 * The spans a worker makes of one task, when an SDK is registered (otel.ts). Each claim of a
 * task is a `claim <fn>` span whose parent is the producer's context, carried in the task entry
 * (`trace`, see submit-trace.ts), so one trace holds the task from submit to its END, across
 * every attempt and worker:
 *
 *   producer's span
 *   ├─ submit <fn>                 (the Client's call)
 *   └─ claim <fn>                  from submit (or the due time) to the claim, on the first claim
 *      └─ attempt <fn>             from the claim to the END, the retry or the abandon
 *         ├─ run <fn>              each run of the task function (a reload starts another);
 *         │                        the function runs in its context, so its own spans nest here
 *         └─ end <fn>              the fenced END write
 *
 * An entry without a context (pushed by hand, or by a producer without tracing) starts a trace
 * at its claim. A task traced here is tracked until its machine releases it, or a new claim of
 * its id replaces it here; only then is a map entry kept per task, so with tracing off each hook
 * costs a map-size check.
 */
import type { Context, Span, Tracer } from '@opentelemetry/api';
import type { LocalTask } from '../task.js';
import { otelApi } from './otel.js';

interface Traced {
  /** the claim these spans are of (an id claimed again here is another claim) */
  task: LocalTask;
  tracer: Tracer;
  attempt: Span;
  /** the attempt's context: its runs and END are made in it */
  context: Context;
  end?: Span;
  /** its END was written: its task machine releases it soon, with the outcome */
  written?: boolean;
  /** the outcome its END carries (set when the END goes out) */
  outcome?: string;
  /** released as abandoned while its END was on its way: the END's answer decides how it ended */
  deferred?: boolean;
  /** the run's error, kept from that release */
  error?: unknown;
}

/** what a run does with its spans: run the function in the run's context, end the span when it settles */
export interface RunScope {
  call<T>(f: () => T): T;
  settled(error?: unknown): void;
}

export class TaskSpans {
  /** by task id */
  private readonly live = new Map<string, Traced>();
  /**
   * claims whose END was written (or is going out) and whose id was claimed here again before their task machine
   * let them go (a retry's END carries the next claim, of the same id, in one script): they end
   * with their own outcome when released, not as abandoned
   */
  private readonly finishing = new Map<LocalTask, Traced>();

  constructor(private readonly address: () => string) {}

  /** a claim (Redis ms `now`) of `t`: the claim span, ended, and the attempt span under it */
  claimed(tracer: Tracer, t: LocalTask, now: number, firstClaim: boolean): void {
    const api = otelApi()!;
    // an old claim of this id still here: its lease has passed to this one
    const old = this.live.get(t.id);
    // (its END written, or going out: the claim may ride in the END's own script and be read
    // before the END's answer; a refused END is released as abandoned by its machine anyway)
    if (old && (old.written || old.end !== undefined)) {
      this.live.delete(t.id);
      this.finishing.set(old.task, old);
    } else if (old) this.released(old.task, undefined, true, undefined);
    const fn = t.entry.function;
    const attributes = {
      'messaging.system': 'task_swarm',
      'messaging.destination.name': fn,
      'messaging.message.id': t.id,
      'task_swarm.task.id': t.id,
      'task_swarm.function': fn,
      'task_swarm.attempt': t.attempt,
      'task_swarm.worker': this.address(),
    };
    let parent = api.ROOT_CONTEXT;
    const carrier = t.entry.trace;
    if (carrier !== null && typeof carrier === 'object' && !Array.isArray(carrier)) {
      try {
        parent = api.propagation.extract(api.ROOT_CONTEXT, carrier);
      } catch {
        // a context that does not read is none: the task's trace starts here
      }
    }
    const queuedAt = t.entry.queued_at;
    const since = firstClaim && typeof queuedAt === 'number' && Number.isFinite(queuedAt) && queuedAt <= now ? queuedAt : now;
    const claim = tracer.startSpan(`claim ${fn}`, { kind: api.SpanKind.CONSUMER, startTime: since, attributes: { ...attributes, 'messaging.operation.name': 'claim' } }, parent);
    claim.end(now);
    const under = api.trace.setSpan(parent, claim);
    const attempt = tracer.startSpan(`attempt ${fn}`, { kind: api.SpanKind.CONSUMER, attributes: { ...attributes, 'messaging.operation.name': 'process' } }, under);
    this.live.set(t.id, { task: t, tracer, attempt, context: api.trace.setSpan(under, attempt) });
  }

  /** a run of `t`'s function starts: its span, and the context its function runs in */
  run(t: LocalTask): RunScope | undefined {
    const traced = this.traced(t);
    const api = traced && otelApi();
    if (!traced || !api) return undefined;
    const span = traced.tracer.startSpan(`run ${t.entry.function}`, { attributes: { 'task_swarm.task.id': t.id } }, traced.context);
    const context = api.trace.setSpan(traced.context, span);
    return {
      call: (f) => api.context.with(context, f),
      settled: (error) => {
        if (error !== undefined) fail(span, error);
        span.end();
      },
    };
  }

  /** `t`'s END write goes out */
  ending(t: LocalTask, outcome: string): void {
    const traced = this.traced(t);
    if (!traced || traced.end) return;
    traced.outcome = outcome;
    traced.end = traced.tracer.startSpan(`end ${t.entry.function}`, { attributes: { 'task_swarm.task.id': t.id, 'task_swarm.outcome': outcome } }, traced.context);
  }

  /**
   * Redis answered the END write: written, or refused (the lease had passed on); `outcome`, how
   * it was written when that is not what went out (a retry the `cancelling` mark wrote as the
   * task's end, stopped)
   */
  endWritten(t: LocalTask, written: boolean, outcome?: string): void {
    const traced = this.traced(t);
    if (!traced?.end) return;
    if (written && outcome !== undefined && outcome !== traced.outcome) {
      traced.outcome = outcome;
      traced.end.setAttribute('task_swarm.outcome', outcome);
    }
    traced.end.setAttribute('task_swarm.written', written);
    traced.end.end();
    traced.end = undefined;
    traced.written = written;
    if (traced.deferred) this.finish(t, traced, written ? traced.outcome : undefined, !written, traced.error);
  }

  /** `t`'s task machine is done with it: the attempt span ends, with how */
  released(t: LocalTask, outcome: string | undefined, abandoned: boolean, error: unknown): void {
    const traced = this.traced(t);
    if (!traced) return;
    // Its END on its way: a retry's END carries the next claim of its id, whose task machine
    // can start first and tell this one its lease is lost. Whether the END was written says
    // how the attempt ended (endWritten).
    if (abandoned && traced.end !== undefined && !traced.deferred) {
      traced.deferred = true;
      traced.error = error;
      return;
    }
    // (written: as Redis wrote it, which endWritten knows)
    this.finish(t, traced, traced.written === true && !abandoned ? (traced.outcome ?? outcome) : outcome, abandoned, error);
  }

  private finish(t: LocalTask, traced: Traced, outcome: string | undefined, abandoned: boolean, error: unknown): void {
    if (this.finishing.get(t) === traced) this.finishing.delete(t);
    else if (this.live.get(t.id) === traced) this.live.delete(t.id);
    traced.end?.end();
    const span = traced.attempt;
    span.setAttribute('task_swarm.outcome', abandoned ? 'abandoned' : (outcome ?? 'failed'));
    if (abandoned) fail(span, 'abandoned: the lease was lost or the worker halted');
    else if (outcome === 'failed' || outcome === 'retry') fail(span, error);
    span.end();
  }

  /**
   * `t` was claimed and goes back to the queue without a run here (its claim answered after the
   * worker reconnected): its attempt span ends, as `handed_back`. Left open, it stayed here for as
   * long as the worker ran, unless this worker claimed the id again.
   */
  handedBack(t: LocalTask): void {
    const traced = this.traced(t);
    if (traced) this.finish(t, traced, 'handed_back', false, undefined);
  }

  /** the worker is done: every span still open ends */
  closeAll(): void {
    for (const { task } of [...this.live.values(), ...this.finishing.values()]) this.released(task, undefined, true, undefined);
  }

  private traced(t: LocalTask): Traced | undefined {
    if (this.live.size === 0 && this.finishing.size === 0) return undefined;
    const traced = this.live.get(t.id);
    return traced?.task === t ? traced : this.finishing.get(t);
  }
}

function fail(span: Span, error: unknown): void {
  const api = otelApi()!;
  try {
    if (error instanceof Error) span.recordException(error);
    span.setStatus({ code: api.SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  } catch {
    // an error value that cannot be read (a revoked Proxy) still fails the span
    span.setStatus({ code: api.SpanStatusCode.ERROR });
  }
}
