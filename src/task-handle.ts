/**
 * The `Task` a task function is given. One is made per run, on the worker's per-task path: its
 * methods are the class's, not closures made for each run (six of them, a few hundred bytes of
 * garbage per task), and each is a getter that hands out a function bound to this task, so that
 * a task function may take them apart (`({ data, emit, signal }) => ...`) as it could before.
 */
import type { LocalTask, Task } from './task.js';
import type { LazyAbort } from '../actors/lazy-abort.js';
import { checkEventName, checkListener, taskData } from './wire.js';

/** what a handle needs of the worker */
export interface HandleDeps {
  emit(t: LocalTask, event: string, data: unknown): void;
  update(t: LocalTask, progress: unknown): Promise<void>;
  /** the run listens for control events `name` now */
  listened(t: LocalTask, name: string): void;
}

type Handler = (payload: unknown) => void;

export class TaskHandle implements Task {
  readonly id: string;
  readonly data: unknown;
  readonly attempt: number;
  readonly function: string;
  readonly #deps: HandleDeps;
  readonly #t: LocalTask;
  readonly #abort: LazyAbort;

  constructor(deps: HandleDeps, t: LocalTask, abort: LazyAbort) {
    this.id = t.id;
    this.data = taskData(t.entry);
    this.attempt = t.attempt;
    this.function = t.entry.function;
    this.#deps = deps;
    this.#t = t;
    this.#abort = abort;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /**
   * A reload replaced this run with a newer one (its abort is no longer the task's): the claim's
   * lease is the same, so emit.lua's fencing lets its events through; they are dropped here
   * instead, as a stale copy's are there. (A run that ignores its AbortSignal runs on.)
   */
  get #superseded(): boolean {
    return this.#t.controller !== this.#abort;
  }

  // A reserved name (`end`, ...) or a bad one throws here, in the task function's own call.
  get emit(): Task['emit'] {
    return (event, data) => {
      const name = checkEventName(event);
      if (!this.#superseded) this.#deps.emit(this.#t, name, data);
    };
  }

  // A superseded run's progress is not written (the current run's heartbeats hold the lease).
  // Its refusal is marked handled: a call nobody awaits (a timer the function left running after
  // it returned) ended the process as an unhandled rejection; one awaited still gets it.
  get update(): Task['update'] {
    return (progress) => {
      if (this.#superseded) return Promise.resolve();
      const p = this.#deps.update(this.#t, progress);
      p.catch(() => {});
      return p;
    };
  }

  // Listeners are the run's: a run a reload detached adds none (it hears no more events).
  get on(): (eventName: string, handler: Handler) => this {
    return (eventName, handler) => {
      const name = checkListener(eventName, handler);
      if (this.#t.listening !== this.#abort) return this;
      const listeners = (this.#t.listeners ??= new Map());
      let set = listeners.get(name);
      if (!set) listeners.set(name, (set = new Set()));
      set.add(handler);
      if (this.#t.held) this.#deps.listened(this.#t, name);
      return this;
    };
  }

  get off(): (eventName: string, handler: Handler) => this {
    return (name, handler) => {
      if (this.#t.listening === this.#abort) this.#t.listeners?.get(name)?.delete(handler);
      return this;
    };
  }
}
