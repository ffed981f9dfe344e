/**
 * Task events on their way to Redis, each fenced by its task's lease (emit.lua): an event is
 * published only while the task is RUNNING under the lease of the copy that emitted it, so a
 * stale copy (a paused worker, one that kept its quorum while cut off) never speaks in the
 * channel of a task someone else now runs, nor after its end.
 *
 * Events emitted in one tick go out in one call, on the next tick. The outbox is open only
 * while the worker is connected and has reconciled its tasks with Redis: while it is not (Redis
 * lost, probing, reconciling), events wait here, up to `limit` of them (the oldest are dropped
 * past that, and counted), and go out in order when it opens again, after reconcile, so that
 * events buffered through an outage are judged against leases that are known again.
 *
 * An event found fenced tells the worker its lease is gone (`onFenced`), sooner than the next
 * heartbeat would. An event whose task's hash is missing (Redis lost its data and the task is
 * not re-asserted yet) is dropped: pub/sub keeps nothing for later anyway.
 */
import type { Connection } from '../redis.js';
import type { Keys } from '../keys.js';
import { emitEvents, type OutgoingEvent } from './leases.js';

/** how long to wait before trying a batch again after Redis refused it while open */
const RETRY_MS = 500;

export class EventOutbox {
  private waiting: OutgoingEvent[] = [];
  private batch: OutgoingEvent[] = [];
  private scheduled = false;
  private open = false;
  private retry?: NodeJS.Timeout;
  /** events dropped because the outbox was full */
  dropped = 0;
  /**
   * each event's place in the order emitted: a batch that comes back unsent is put back among
   * those waiting by it, not ahead of them all (a later batch, out behind it and failed after it,
   * would otherwise go first, and emit.lua, which publishes only the events numbered above the
   * last published of their claim, drop the earlier ones for good)
   */
  private readonly order = new WeakMap<OutgoingEvent, number>();
  private emittedCount = 0;

  constructor(
    private readonly redis: Connection,
    private readonly keys: Keys,
    private readonly limit: number,
    private readonly onDrop: (count: number) => void,
    /** events refused because their lease is gone: (id, lease) of each */
    private readonly onFenced: (fenced: { id: string; lease: string }[]) => void,
  ) {}

  publish(e: OutgoingEvent): void {
    this.order.set(e, ++this.emittedCount);
    if (!this.open || this.waiting.length) return this.hold([e]);
    this.batch.push(e);
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(() => this.flush());
    }
  }

  /** Open (connected, reconciled): what waited goes out, in order. Closed: events wait. */
  setOpen(open: boolean): void {
    if (open === this.open) return;
    this.open = open;
    clearTimeout(this.retry);
    if (!open) {
      this.hold(this.batch.splice(0), true);
      return;
    }
    this.batch = [...this.waiting.splice(0), ...this.batch];
    this.flush();
  }

  /** events of this copy of a task (id and lease) wait here for the outbox to open */
  holds(id: string, lease: string): boolean {
    return this.waiting.some((e) => e.id === id && e.lease === lease);
  }

  get size(): number {
    return this.waiting.length + this.batch.length;
  }

  /** Send what this tick emitted now (the end batch calls it, so a task's events precede its END). */
  flushNow(): void {
    if (this.batch.length) this.flush();
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.batch;
    this.batch = [];
    if (batch.length === 0) return;
    emitEvents(this.redis, this.keys, batch).then(
      (statuses) => {
        const fenced = batch.filter((_, i) => statuses[i] === 'fenced').map(({ id, lease }) => ({ id, lease }));
        if (fenced.length) this.onFenced(fenced);
      },
      () => {
        // Redis is away: hold them; the worker closes the outbox if it is lost for good
        this.hold(batch, true);
        if (this.open && !this.retry) {
          this.retry = setTimeout(() => {
            this.retry = undefined;
            if (!this.open) return;
            this.batch = [...this.waiting.splice(0), ...this.batch];
            this.flush();
          }, RETRY_MS);
          this.retry.unref();
        }
      },
    );
  }

  /** two lists of events, each in the order emitted, as one in that order */
  private merged(a: OutgoingEvent[], b: OutgoingEvent[]): OutgoingEvent[] {
    if (b.length === 0) return [...a];
    const at = (e: OutgoingEvent) => this.order.get(e) ?? 0;
    // (the common case: all of `a` was emitted before all of `b`)
    if (at(a[a.length - 1]!) <= at(b[0]!)) return [...a, ...b];
    const out: OutgoingEvent[] = [];
    let i = 0;
    let j = 0;
    while (i < a.length && j < b.length) out.push(at(a[i]!) <= at(b[j]!) ? a[i++]! : b[j++]!);
    while (i < a.length) out.push(a[i++]!);
    while (j < b.length) out.push(b[j++]!);
    return out;
  }

  /** keep events for later: `first` = they were emitted before those already waiting */
  private hold(events: OutgoingEvent[], first = false): void {
    if (events.length === 0) return;
    // (in place as they come: a new array per event held made a long outage's chatty tasks
    // cost the square of the buffer; put first is only when a batch comes back unsent)
    if (first) this.waiting = this.merged(events, this.waiting);
    else for (const e of events) this.waiting.push(e);
    const over = this.waiting.length - this.limit;
    if (over > 0) {
      this.waiting.splice(0, over);
      const before = this.dropped;
      this.dropped += over;
      if (before === 0 || Math.floor(before / 1000) !== Math.floor(this.dropped / 1000)) this.onDrop(this.dropped);
    }
  }
}
