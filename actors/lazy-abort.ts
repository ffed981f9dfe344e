/**
 * A run's AbortController, made only when the task function reads `task.signal`. Most task
 * functions never do, and an AbortController with its signal is a measurable share of a short
 * task's cost. Aborting before anyone looked records the reason, so a signal read later is
 * born aborted.
 */
export class LazyAbort {
  private controller?: AbortController;
  private reason?: unknown;
  private done = false;

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

  abort(reason?: unknown): void {
    if (this.done) return;
    this.done = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}
