/**
 * Task ends on their way to Redis: every end requested before the current callback returns (its
 * microtasks included) goes out in a single finish.lua call. Under load many tasks settle
 * together (a claim batch of no-op tasks ends within the callback that delivered the claim), so
 * an end costs a fraction of a round trip. Just before the write, `onFlush` frees the tasks'
 * slots, so the worker's next claim goes out in the same network write as these ends.
 *
 * Why process.nextTick and not setImmediate: the command connection auto-pipelines, and ioredis
 * sends an auto-pipeline from a setImmediate. Flushed from a setImmediate of our own, the ends
 * and the claim would wait for the event loop's next turn (one more epoll per task, measured
 * at concurrency 1); flushed on nextTick, they leave in this turn's check phase.
 */
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import { finishTasks, type Ending } from './effects/leases.js';

export class EndBatch {
  private pending: { ending: Ending; resolve: (written: boolean) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    /** told, just before the write goes out, which tasks it ends (their slots are free now) */
    private readonly onFlush: (ids: string[]) => void = () => {},
  ) {}

  /** Resolves with false when fenced (the lease was not ours; nothing written). */
  end(ending: Ending): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.pending.push({ ending, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        process.nextTick(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    this.onFlush(batch.map((b) => b.ending.id));
    finishTasks(
      this.redis,
      this.keys,
      batch.map((b) => b.ending),
    ).then(
      (written) => batch.forEach((b, i) => b.resolve(written[i] === true)),
      (e) => batch.forEach((b) => b.reject(e)),
    );
  }
}
