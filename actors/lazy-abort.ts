/**
 * A run's AbortController, made only when the task function reads `task.signal`. Most task
 * functions never do, and an AbortController with its signal is a measurable share of a short
 * task's cost. Aborting before anyone looked records the reason, so a signal read later is
 * born aborted.
 *
 * `onAbort` is the signal's `abort` listener without the signal: an AbortController and an
 * EventTarget listener are a measurable share of a path the CPU has not run lately (an idle
 * worker's pickup: docs/benchmarks.md, where a pickup's time goes), where a function in a list
 * costs next to nothing.
 */
export class LazyAbort {
  private controller?: AbortController;
  private reason?: unknown;
  private done = false;
  private listeners?: Set<() => void>;

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.done) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.done;
  }

  /**
   * Call `listener` once, when aborted (as an `abort` listener with `once`: one added after the
   * abort is never called). Returns what removes it.
   */
  onAbort(listener: () => void): () => void {
    if (this.done) return () => {};
    (this.listeners ??= new Set()).add(listener);
    return () => void this.listeners?.delete(listener);
  }

  abort(reason?: unknown): void {
    if (this.done) return;
    this.done = true;
    this.reason = reason;
    // As an AbortSignal's listeners: one removed by another before its turn is not called, and
    // one that throws keeps neither the others nor the signal from hearing the abort (its error
    // is thrown once they all have).
    const listeners = this.listeners;
    let failed: { error: unknown } | undefined;
    if (listeners) {
      for (const l of listeners) {
        try {
          l();
        } catch (error) {
          failed ??= { error };
        }
      }
      this.listeners = undefined;
    }
    this.controller?.abort(reason);
    if (failed) throw failed.error;
  }
}
