/**
 * The `Task` a task function is given. One is made per run, on the worker's per-task path: its
 * methods are the class's, not closures made for each run (six of them, a few hundred bytes of
 * garbage per task), and each is a getter that hands out a function bound to this task, so that
 * a task function may take them apart (`({ data, emit, signal }) => ...`) as it could before.
 */
import type { LocalTask, Task } from './task.js';
import type { LazyAbort } from '../actors/lazy-abort.js';
import { checkEventName, taskData } from './wire.js';

/** what a handle needs of the worker */
export interface HandleDeps {
  emit(t: LocalTask, event: string, data: unknown): void;
  update(t: LocalTask, progress: unknown): Promise<void>;
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

  // A reserved name (`end`, ...) or a bad one throws here, in the task function's own call.
  get emit(): Task['emit'] {
    return (event, data) => this.#deps.emit(this.#t, checkEventName(event), data);
  }

  get update(): Task['update'] {
    return (progress) => this.#deps.update(this.#t, progress);
  }

  get on(): (eventName: string, handler: Handler) => this {
    return (name, handler) => {
      const listeners = (this.#t.listeners ??= new Map());
      let set = listeners.get(name);
      if (!set) listeners.set(name, (set = new Set()));
      set.add(handler);
      return this;
    };
  }

  get off(): (eventName: string, handler: Handler) => this {
    return (name, handler) => {
      this.#t.listeners?.get(name)?.delete(handler);
      return this;
    };
  }
}
