/**
 * The fenced END (finish.lua), and ENDs on their way to Redis: every end requested before the current callback returns (its
 * microtasks included) goes out in a single call. Under load many tasks settle together (a claim
 * batch of no-op tasks ends within the callback that delivered the claim), so an end costs a
 * fraction of a round trip.
 *
 * Just before the batch goes out, `onFlush` tells the worker which tasks it ends: their slots are
 * free now, and the worker machine claims for them at once. That claim takes the batch along
 * (`takeOutgoing`): the ENDs and the claim of the next tasks travel in one script,
 * finish-claim.lua, as BullMQ's moveToFinished fetches the next job. A batch no claim takes goes
 * alone (finish.lua).
 *
 * Why process.nextTick and not setImmediate: flushed from a setImmediate, the call would wait
 * for the event loop's check phase, one more turn of the loop (one more epoll per task,
 * measured at concurrency 1); flushed on nextTick, it leaves before this turn goes on. For the
 * same reason the worker's command connection does not auto-pipeline (ioredis sends an
 * auto-pipeline from a setImmediate).
 */
import type { Connection } from '../redis.js';
import type { TaskOutcome } from '../../machines/task.js';
import type { Keys } from '../keys.js';
import { runScript } from '../scripts.js';

/**
 * How an attempt leaves, as finish.lua takes it: the task machine's outcome (machines/task.ts),
 * its `retry` carrying the delay in ms (`retry:<ms>`: finish.lua writes the task DELAYED).
 */
export type EndingOutcome = Exclude<TaskOutcome, 'retry'> | `retry:${number}`;

export interface Ending {
  id: string;
  lease: string;
  outcome: EndingOutcome;
  /** the result (succeeded) or error (otherwise), as JSON */
  payloadJson: string;
}

/** End several tasks in one call; per task, false when fenced (the lease was not ours, nothing written). */
export async function finishTasks(redis: Connection, keys: Keys, endings: Ending[]): Promise<EndAnswer[]> {
  return parseFinish(await runScript(redis, 'finish', finishKeys(keys), finishArgs(keys, endings)));
}

export const finishKeys = (keys: Keys) => [keys.leases, keys.ended, keys.newQueue, keys.taskSet];

/** finish.lua's ARGV: the task key prefix, then four per END (`pushEndings`) */
export function finishArgs(keys: Keys, endings: Ending[]): string[] {
  const args = [keys.taskKeyPrefix];
  pushEndings(args, endings);
  return args;
}

/** push each END's four of finish.lua's ARGV onto `args` (the task's key and channel are made from its id there) */
export function pushEndings(args: (string | number)[], endings: Ending[]): void {
  for (const e of endings) args.push(e.id, e.lease, e.outcome, e.payloadJson);
}

/**
 * An END written as the task's end, `stopped`, where a retry was asked: the task was marked
 * `cancelling` (a stop through the Client, or a cancel; finish.lua answers 2), so the retry's
 * claim, for which the worker keeps a stop it heard after the function returned
 * (src/early-control.ts), will not come.
 */
export const NOT_RETRIED: unique symbol = Symbol('written as the end, not retried');

/**
 * finish.lua's answer for one END: written (true), fenced (false), NOT_RETRIED, or refused
 * before its first write, with Redis's error (a string: a key it would write is of another type,
 * written by hand): it is tried again, as an END that could not reach Redis is
 */
export type EndAnswer = boolean | typeof NOT_RETRIED | string;

/** how one END went: written, fenced (false), or written as the task's end where a retry was asked */
export type EndWritten = boolean | typeof NOT_RETRIED;

export const parseFinish = (reply: unknown): EndAnswer[] => (reply as (number | string)[]).map((x) => (x === 1 ? true : x === 0 ? false : x === 2 ? NOT_RETRIED : String(x)));


interface Pending {
  ending: Ending;
  resolve: (written: EndWritten) => void;
  reject: (e: unknown) => void;
}

/** the ENDs going out now, taken by the claim that carries them */
export interface OutgoingEnds {
  endings: Ending[];
  /**
   * the script that carries them: each END settles with its `written`; should the script fail,
   * the ENDs are sent again on their own (finish.lua accepts its own retry: one that did reach
   * Redis is written once), so a failed claim never holds them back
   */
  carriedBy(reply: Promise<{ written: EndAnswer[] }>): void;
}

export class EndBatch {
  private pending: Pending[] = [];
  private scheduled = false;
  /** the batch being flushed, until a claim takes it or it goes alone */
  private outgoing?: Pending[];

  constructor(
    private readonly redis: Connection,
    private readonly keys: Keys,
    /** told, just before the batch goes out, which tasks it ends (their slots are free now) */
    private readonly onFlush: (ends: readonly Ending[]) => void = () => {},
    /** run before the batch goes out: the events the tasks emitted before they ended go first */
    private readonly beforeSend: () => void = () => {},
    /**
     * told, as soon as Redis has answered, which ENDs it wrote as their task's end (not a
     * retry's; a retry the `cancelling` mark wrote as the end: NOT_RETRIED), before the replicas'
     * wait (redis.durable): what the worker kept for a claim of those ids (src/early-control.ts)
     * is dropped before a claim of the same id, submitted again, can come. Dropped only once the
     * END settled, a durable END's waited for the replica, and the id submitted again meanwhile
     * was handed a stop kept for the ended run's retry (test/control-stop-converted-retry-durable).
     */
    private readonly onEnded: (ends: readonly Ending[]) => void = () => {},
    /**
     * run once the ENDs are written, before they settle: the wait for replicas (redis.durable),
     * given the ENDs written (a batch whose ENDs were all fenced or refused settles at once).
     * It must not reject (what it finds, it reports itself): an END it could not confirm is
     * still written, and is never sent again for that.
     */
    private readonly afterWrite?: (endings: readonly Ending[]) => Promise<void>,
  ) {}

  /** Resolves with false when fenced (the lease was not ours; nothing written), NOT_RETRIED when a retry asked was written as the task's end. */
  end(ending: Ending): Promise<EndWritten> {
    return new Promise((resolve, reject) => {
      this.pending.push({ ending, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        process.nextTick(() => this.flush());
      }
    });
  }

  /** The batch going out now, when called from within `onFlush` (once); otherwise undefined. */
  takeOutgoing(): OutgoingEnds | undefined {
    const batch = this.outgoing;
    if (!batch) return undefined;
    this.outgoing = undefined;
    this.beforeSend();
    return {
      endings: batch.map((b) => b.ending),
      carriedBy: (reply) =>
        void reply.then(
          ({ written }) => this.confirmed(batch, written),
          () => this.sendAlone(batch),
        ),
    };
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    this.outgoing = batch;
    try {
      this.onFlush(batch.map((b) => b.ending));
    } finally {
      // no claim took it (or onFlush threw: the ends still go out, the error goes on up)
      if (this.outgoing === batch) {
        this.outgoing = undefined;
        this.beforeSend();
        this.sendAlone(batch);
      }
    }
  }

  private sendAlone(batch: Pending[]): void {
    finishTasks(
      this.redis,
      this.keys,
      batch.map((b) => b.ending),
    ).then(
      (written) => this.confirmed(batch, written),
      (e: unknown) => batch.forEach((b) => b.reject(e)),
    );
  }

  private confirmed(batch: Pending[], written: EndAnswer[]): void {
    const ended = batch.flatMap((b, i) => (written[i] === NOT_RETRIED || (written[i] === true && !b.ending.outcome.startsWith('retry:')) ? [b.ending] : []));
    if (ended.length) this.onEnded(ended);
    // (none, unless redis.durable: the ENDs settle in the reply's own tick, as they always did)
    if (!this.afterWrite) return settle(batch, written);
    // Only what was written is waited for, and named: an END fenced, or refused at a key it
    // would write (tried again every finishRetryDelay until the key is mended), wrote nothing a
    // failover could lose. (Waited for, each try cost a WAIT, and was said written.)
    const wrote = batch.flatMap((b, i) => (written[i] === true || written[i] === NOT_RETRIED ? [b.ending] : []));
    if (wrote.length === 0) return settle(batch, written);
    void this.afterWrite(wrote)
      .catch(() => {})
      .then(() => settle(batch, written));
  }
}

const settle = (batch: Pending[], written: EndAnswer[]) =>
  batch.forEach((b, i) => {
    const w = written[i];
    if (w === NOT_RETRIED) b.resolve(w);
    else if (typeof w === 'string') b.reject(new Error(`Redis refused its END (nothing of it written): ${w}`));
    else b.resolve(w === true);
  });
