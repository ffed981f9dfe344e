/**
 * Task ends on their way to Redis: every end requested before the current callback returns (its
 * microtasks included) goes out in a single call. Under load many tasks settle together (a claim
 * batch of no-op tasks ends within the callback that delivered the claim), so an end costs a
 * fraction of a round trip.
 *
 * Just before the call goes out, `onFlush` frees the tasks' slots, and the worker machine claims
 * for them at once: a claim made during `onFlush` (`claimAlong`) rides in the same script
 * (finish-claim.lua), so a busy worker sends one command per batch, ends and next claim
 * together (the issue's end-and-claim-next). Without a claim the ends go alone (finish.lua).
 *
 * Why process.nextTick and not setImmediate: flushed from a setImmediate, the call would wait
 * for the event loop's check phase, one more turn of the loop (one more epoll per task,
 * measured at concurrency 1); flushed on nextTick, it leaves before this turn goes on. For the
 * same reason the worker's command connection does not auto-pipeline (ioredis sends an
 * auto-pipeline from a setImmediate).
 */
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import { finishTasks, type Ending } from './effects/leases.js';
import { finishAndClaim, type ClaimRequest } from './effects/finish-claim.js';
import type { ClaimReply } from './effects/queue.js';

export class EndBatch {
  private pending: { ending: Ending; resolve: (written: boolean) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;
  /** set while onFlush runs: a claim made then rides with the ends */
  private riding?: { request?: ClaimRequest; resolve?: (r: ClaimReply) => void; reject?: (e: unknown) => void };

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    /** told, just before the call goes out, which tasks it ends (their slots are free now) */
    private readonly onFlush: (ids: string[]) => void = () => {},
    /** run before the call goes out: the events the tasks emitted before they ended go first */
    private readonly beforeSend: () => void = () => {},
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

  /**
   * A claim sent with the ends now going out, when called from within `onFlush` (and no other
   * claim rides already); otherwise undefined, and the caller claims on its own.
   */
  claimAlong(request: ClaimRequest): Promise<ClaimReply> | undefined {
    const r = this.riding;
    // nothing to claim: the caller's own claim returns at once, without Redis
    if (!r || r.request || request.max <= 0 || request.functions.length === 0) return undefined;
    r.request = request;
    return new Promise((resolve, reject) => {
      r.resolve = resolve;
      r.reject = reject;
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    const endings = batch.map((b) => b.ending);
    const riding: NonNullable<EndBatch['riding']> = {};
    this.riding = riding;
    let thrown: { error: unknown } | undefined;
    try {
      this.onFlush(endings.map((e) => e.id));
    } catch (error) {
      // the ends (and a claim already riding) still go out; the error is rethrown below
      thrown = { error };
    } finally {
      this.riding = undefined;
    }
    this.beforeSend();
    const settle = (written: boolean[]) => batch.forEach((b, i) => b.resolve(written[i] === true));
    const fail = (e: unknown) => batch.forEach((b) => b.reject(e));
    const endAlone = () => finishTasks(this.redis, this.keys, endings).then(settle, fail);
    if (!riding.request) endAlone();
    else {
      finishAndClaim(this.redis, this.keys, endings, riding.request).then(
        ({ written, ...claimed }) => {
          settle(written);
          riding.resolve!(claimed);
        },
        (e: unknown) => {
          // The claim fails as it would have alone. The ends are sent again on their own (a
          // finish that did reach Redis is written once: finish.lua accepts its own retry), so
          // a failure of the claim's half never holds them back.
          riding.reject!(e);
          endAlone();
        },
      );
    }
    if (thrown) throw thrown.error;
  }
}
