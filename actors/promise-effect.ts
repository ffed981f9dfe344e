/**
 * A one-shot effect a machine invokes (claim, wait for a task, reconcile, ...): an xstate
 * `fromPromise` actor logic that also carries its function, so that a compiled machine
 * (compiled-machine.ts) can run it without building an xstate Actor for it. Interpreted by
 * xstate it is an ordinary promise actor; either way the machine sees the same thing:
 * `xstate.done.actor.<id>` with the output, or `xstate.error.actor.<id>` with the error, and
 * nothing once the invoking state has been left (the effect's signal is aborted then).
 *
 * Why: the worker invokes a claim per batch, one per task at concurrency 1, and an xstate Actor
 * with its AbortController per claim was a large part of the worker machine's CPU there
 * (docs/task-actors.md).
 */
import { fromPromise, type AnyActorRef, type AnyEventObject, type NonReducibleUnknown } from 'xstate';
import { LazyAbort } from './lazy-abort.js';

export interface EffectArgs<I> {
  input: I;
  /** aborted when the invoking state is left */
  readonly signal: AbortSignal;
  /** the same as signal.aborted, without making the signal (cheaper where nothing listens) */
  aborted(): boolean;
  /**
   * `listener` called once when the invoking state is left, as an `abort` listener of `signal`
   * with `once`, without making the signal (actors/lazy-abort.ts); returns what removes it
   */
  onAbort(listener: () => void): () => void;
}
export type EffectFn<O, I> = (args: EffectArgs<I>) => Promise<O>;

/** each promise effect's function, by its logic */
const functions = new WeakMap<object, EffectFn<unknown, unknown>>();

export function promiseEffect<O, I = NonReducibleUnknown>(fn: EffectFn<O, I>) {
  const logic = fromPromise<O, I>(({ input, signal }) =>
    fn({
      input,
      signal,
      aborted: () => signal.aborted,
      onAbort: (listener) => {
        signal.addEventListener('abort', listener, { once: true });
        return () => signal.removeEventListener('abort', listener);
      },
    }),
  );
  functions.set(logic, fn as EffectFn<unknown, unknown>);
  return logic;
}

export function effectFnOf(logic: unknown): EffectFn<unknown, unknown> | undefined {
  return typeof logic === 'object' && logic !== null ? functions.get(logic) : undefined;
}

/**
 * A promise effect invoked by a compiled machine: reports its end to `parent` as xstate's
 * promise actor does, with just enough of an actor ref for the machine's snapshot (`children`).
 */
export class EffectChild {
  private status: 'active' | 'done' | 'error' | 'stopped' = 'active';
  private output: unknown;
  private error: unknown;
  private readonly abort = new LazyAbort();

  constructor(
    readonly id: string,
    readonly src: unknown,
    private readonly fn: EffectFn<unknown, unknown>,
    private readonly input: unknown,
    private readonly parent: AnyActorRef,
  ) {}

  start(): void {
    const abort = this.abort;
    let p: Promise<unknown>;
    try {
      p = Promise.resolve(this.fn({ input: this.input, get signal() { return abort.signal; }, aborted: () => abort.aborted, onAbort: (listener) => abort.onAbort(listener) }));
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (output) => {
        if (this.status !== 'active') return;
        this.status = 'done';
        this.output = output;
        this.report({ type: `xstate.done.actor.${this.id}`, output, actorId: this.id });
      },
      (error: unknown) => {
        if (this.status !== 'active') return;
        this.status = 'error';
        this.error = error;
        this.report({ type: `xstate.error.actor.${this.id}`, error, actorId: this.id });
      },
    );
  }

  /** the invoking state was left (or the machine stopped): nothing more is reported */
  stop(): void {
    if (this.status !== 'active') return;
    this.status = 'stopped';
    this.abort.abort();
  }

  getSnapshot() {
    return { status: this.status, output: this.output, error: this.error, context: undefined };
  }

  /** a promise takes no events */
  send(): void {}

  private report(event: AnyEventObject): void {
    if (this.parent.getSnapshot().status === 'active') this.parent.send(event);
  }
}
