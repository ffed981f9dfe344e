/**
 * Runs a user task function for the task machine's `runTask` actor: builds the `Task` handle,
 * ties its AbortSignal to the machine (leaving RUNNING aborts it), and on a reload re-reads the
 * task's `data` from its hash first, as the seed's reload did.
 */
import { fromPromise } from 'xstate';
import type { LocalTask, Task, TaskFunction } from '../src/task.js';
import { parseEntry, taskData } from '../src/wire.js';
import { UnknownFunctionError } from '../src/errors.js';

export interface RunnerDeps {
  local(id: string): LocalTask | undefined;
  fn(name: string): TaskFunction | undefined;
  /** the task's `data` field as stored in its hash now */
  readRaw(id: string): Promise<string | null>;
  emit(id: string, event: string, data: unknown): void;
  update(id: string, progress: unknown): Promise<void>;
}

export function taskRunner(deps: RunnerDeps) {
  return fromPromise<unknown, { id: string; run: number }>(async ({ input, signal }) => {
    const t = deps.local(input.id);
    if (!t) throw new Error(`task ${input.id} is not held by this worker`);
    if (input.run > 0) {
      const raw = await deps.readRaw(t.id);
      if (raw) {
        t.entry = parseEntry(raw);
        t.raw = raw;
      }
    }
    t.controller = new AbortController();
    const controller = t.controller;
    signal.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
    const fn = deps.fn(t.entry.function);
    if (!fn) throw new UnknownFunctionError(t.entry.function);
    const handle: Task = {
      id: t.id,
      data: taskData(t.entry),
      attempt: t.attempt,
      function: t.entry.function,
      signal: controller.signal,
      emit: (event, data) => deps.emit(t.id, event, data),
      on(name, handler) {
        let set = t.listeners.get(name);
        if (!set) t.listeners.set(name, (set = new Set()));
        set.add(handler);
        return this;
      },
      off(name, handler) {
        t.listeners.get(name)?.delete(handler);
        return this;
      },
      update: (progress) => deps.update(t.id, progress),
    };
    return await fn(handle);
  });
}
