/**
 * A compiled machine (compiled-machine.ts) run as a plain record instead of an xstate Actor: the
 * same statechart, stepped by the same compiled logic, with just what its actions use of an actor
 * (`send`, `getSnapshot`, the clock its delays arm) and a queue, so that an event sent while a
 * step runs is taken after that step, as xstate's mailbox does. No actor system, registration,
 * observers or inspection unless asked for.
 *
 * Why: the worker runs one task machine per claimed task. Created as an xstate Actor, each cost
 * the Actor's construction, its system registration and its done event through the worker
 * machine, per task; as a record it costs the steps of its statechart (bench/xstate-cost.ts).
 *
 * The owner hears how a record's life ended: `done` with the machine's output when it reaches
 * its final state, `crashed` when a step throws (an action failed: the record stops and nothing
 * it armed survives, as for an xstate actor that errors). A throw never reaches `send`'s caller.
 * The record is its own actor scope (`self`, `defer`, `system`), so stepping allocates none.
 */
import type { ActorLogic, AnyEventObject, EventObject, InspectionEvent } from 'xstate';
import type { CompiledSnapshot } from './compiled-machine.js';

export type Clock = { setTimeout(f: () => void, ms: number): unknown; clearTimeout(h: unknown): void };

export interface RecordOwner {
  done(record: MachineRecord<any>, output: unknown): void;
  crashed(record: MachineRecord<any>, error: unknown): void;
  /** each microstep, as xstate's inspection API reports it (the model tests compare with xstate) */
  inspect?(event: InspectionEvent): void;
  /** each event the record is sent, before it is taken (tests) */
  received?(record: MachineRecord<any>, event: AnyEventObject): void;
}

const realClock: Clock = { setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
const NO_INSPECTION = {};
let sessions = 0;

export class MachineRecord<C extends object> {
  private snapshot!: CompiledSnapshot<C>;
  private stepping = false;
  private queue: AnyEventObject[] = [];
  private deferred: (() => void)[] = [];
  /** the actor scope the compiled logic steps with: the record itself */
  private readonly scope = this as unknown as never;
  /**
   * read by the compiled logic as `scope.system` at each microstep, for inspection (shared when
   * there is none); replaced while the record is watched, so an unwatched one pays nothing
   */
  system: { _sendInspectionEvent?: (e: InspectionEvent) => void };
  private readonly session = ++sessions;

  constructor(
    private readonly logic: ActorLogic<CompiledSnapshot<C>, EventObject, unknown>,
    input: unknown,
    private readonly owner: RecordOwner,
    /** a name for messages, as an actor's id (the worker uses the task's id) */
    readonly id: string,
    readonly clock: Clock = realClock,
  ) {
    this.system = owner.inspect ? { _sendInspectionEvent: owner.inspect } : NO_INSPECTION;
    this.stepping = true; // until start(): what the initial entry actions send waits for them
    // a crash here (its context, an assign of its initial entry) is reported by start(): before
    // that, its owner has not registered the record, and would take it for another's
    this.guarded(() => (this.snapshot = logic.getInitialSnapshot(this.scope, input)), false);
  }

  /**
   * Call `onStep` after each microstep (the inspection hook the compiled logic reports to), until
   * unwatch(); the owner's own inspector, if any, still hears every one first.
   */
  watch(onStep: () => void): void {
    const inspect = this.owner.inspect;
    this.system = {
      _sendInspectionEvent: (e) => {
        inspect?.(e);
        onStep();
      },
    };
  }

  unwatch(): void {
    this.system = this.owner.inspect ? { _sendInspectionEvent: this.owner.inspect } : NO_INSPECTION;
  }

  /** unique to this record (an id can come back: a task claimed again); made when asked for */
  get sessionId(): string {
    return `r${this.session}`;
  }

  /** as an actor scope: the actor is the record */
  get self(): this {
    return this;
  }

  /** as an actor scope: a task machine stops no child, logs nothing, emits nothing */
  stopChild(): void {}
  logger(): void {}
  emit(): void {}
  actionExecutor(): void {}

  /** as an actor scope: run `fn` once the step under way is over */
  defer(fn: () => void): void {
    this.deferred.push(fn);
  }

  /** run the initial state's entry actions (deferred until the record starts, as in xstate) */
  start(): this {
    if (this.snapshot.status === 'error') {
      this.stepping = false;
      this.owner.crashed(this, this.snapshot.error);
      return this;
    }
    this.drain();
    return this;
  }

  getSnapshot(): CompiledSnapshot<C> {
    return this.snapshot;
  }

  send(event: AnyEventObject): void {
    if (this.snapshot.status !== 'active') return;
    this.owner.received?.(this, event);
    this.queue.push(event);
    if (this.stepping) return;
    this.stepping = true;
    this.drain();
  }

  /** stop without an end (its owner is done): nothing it armed runs later, nothing is reported */
  stop(): void {
    if (this.snapshot.status !== 'active') return;
    this.snapshot = this.logic.transition(this.snapshot, { type: 'xstate.stop' }, this.scope);
    this.queue.length = 0;
    this.deferred.length = 0;
  }

  private drain(): void {
    try {
      for (;;) {
        if (this.deferred.length) {
          const deferred = this.deferred;
          this.deferred = [];
          try {
            for (const f of deferred) f();
          } catch (error) {
            return this.crash(error);
          }
        }
        if (this.snapshot.status === 'done') return this.owner.done(this, this.snapshot.output);
        const event = this.queue.shift();
        if (!event || this.snapshot.status !== 'active') return;
        try {
          this.snapshot = this.logic.transition(this.snapshot, event, this.scope);
        } catch (error) {
          return this.crash(error);
        }
      }
    } finally {
      this.stepping = false;
    }
  }

  /** run `f`: true, or false when it threw, which crashes the record (reported once, now or by start()) */
  private guarded(f: () => unknown, report = true): boolean {
    try {
      f();
      return true;
    } catch (error) {
      this.crash(error, report);
      return false;
    }
  }

  /** a step or a deferred action threw: the record stops, and its owner hears it (unless `report` is false) */
  private crash(error: unknown, report = true): void {
    // a throw inside a transition has disarmed what the machine armed (compiled-machine.ts
    // halts before it rethrows); one in a deferred action has not yet: stop it
    if (this.snapshot?.status === 'active') {
      try {
        this.snapshot = this.logic.transition(this.snapshot, { type: 'xstate.stop' }, this.scope);
      } catch {
        // stopping only clears timers: nothing left to do
      }
    }
    // (a copy that keeps the snapshot's class: its matches())
    this.snapshot = Object.assign(Object.create(Object.getPrototypeOf(this.snapshot ?? {}) as object) as CompiledSnapshot<C>, this.snapshot, { status: 'error', error });
    this.queue.length = 0;
    this.deferred.length = 0;
    if (report) this.owner.crashed(this, error);
  }
}
