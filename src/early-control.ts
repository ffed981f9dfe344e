/**
 * Control messages a worker heard for a task it does not hold, kept a short while in case it is
 * about to. A claim makes its tasks RUNNING in Redis before its reply reaches the worker, and the
 * control channel is another connection: a `stop` sent as soon as a client sees RUNNING can
 * arrive first. Kept, it is handed to the task once the worker adopts the claim, in the order
 * heard, through the same path as one heard later.
 *
 * Every worker hears every task's control channel (one pattern subscription), so most of what is
 * kept here is for tasks other workers run: it is dropped unread when it expires, and the
 * oldest goes first past `maxCount` messages or `maxChars` characters (ids included), so that a flood of
 * messages for ids no one runs costs a bounded amount of memory.
 *
 * Which messages a claim gets (docs/failure-model.md): those heard since its request left (one
 * heard before cannot answer the claim's RUNNING: it was published before the claim ran) and
 * within `keepMs` of its adoption. A message for an earlier claim of the same id, or for the task
 * while it was queued, is not carried over to a later claim: one heard here for a claim whose
 * function had returned (kept for the retry its END may carry) is forgotten once that END is
 * written as the task's end (`forget`), else an idle wait sent before it, claiming the id
 * submitted again, got it.
 */

/**
 * What a worker keeps at most: this many messages, of this many characters in all. A stop,
 * reload or event is a few dozen characters; a claim takes at most `concurrency` tasks, each
 * with a message or two: this is room for the bursts of a busy swarm, and the bound of a flood.
 */
export const EARLY_CONTROL_MAX = 1000;
export const EARLY_CONTROL_CHARS = 1 << 20;

/** one message heard, in arrival order; `taken` once a claim took (or passed over) it */
interface Heard {
  key: string;
  at: number;
  message: string;
  /** the characters it holds: its id's and its message's */
  size: number;
  taken: boolean;
}

const NONE: readonly string[] = [];

export class EarlyControl {
  /** every message kept, oldest first (taken ones too, until they reach the front: the count bound covers them) */
  private readonly order: Heard[] = [];
  /** the messages not yet taken, by task */
  private readonly byTask = new Map<string, Heard[]>();
  /** characters of the messages not yet taken, their task ids included */
  private chars = 0;
  private held = 0;

  constructor(
    private readonly keepMs: number,
    private readonly maxCount: number,
    private readonly maxChars: number,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** messages kept for tasks not yet held */
  get size(): number {
    return this.held;
  }

  /** a message heard on the control channel of task `id` (of partition `part`), which is not held here */
  keep(part: number, id: string, message: string): void {
    const now = this.clock();
    this.expire(now);
    // (the id counts as the message does: it is a channel's name, as long as whoever publishes
    // makes it, and it is kept with the message)
    const size = id.length + message.length;
    // one message over the whole bound would push out everything else, then itself
    if (size > this.maxChars) return;
    const h: Heard = { key: `${part}\n${id}`, at: now, message, size, taken: false };
    this.order.push(h);
    this.chars += size;
    this.held++;
    const list = this.byTask.get(h.key);
    if (list) list.push(h);
    else this.byTask.set(h.key, [h]);
    while (this.order.length > this.maxCount || this.chars > this.maxChars) this.dropOldest();
  }

  /**
   * The messages for task `id` (of partition `part`) heard at or after `since` (the clock's time
   * its claim's request left) and within `keepMs`, oldest first; none of its messages is kept after.
   */
  take(part: number, id: string, since: number): readonly string[] {
    if (this.byTask.size === 0) return NONE;
    const key = `${part}\n${id}`;
    const list = this.byTask.get(key);
    if (!list) return NONE;
    this.byTask.delete(key);
    const from = Math.max(since, this.clock() - this.keepMs);
    const out: string[] = [];
    for (const h of list) {
      h.taken = true;
      this.chars -= h.size;
      this.held--;
      if (h.at >= from) out.push(h.message);
    }
    return out;
  }

  /**
   * Task `id` (of partition `part`) ended here, its END written with no retry to carry: what
   * was kept for it was for that claim, and no later claim of the id gets it.
   */
  forget(part: number, id: string): void {
    if (this.byTask.size !== 0) this.take(part, id, Infinity);
  }

  private expire(now: number): void {
    while (this.order.length && now - this.order[0]!.at > this.keepMs) this.dropOldest();
  }

  private dropOldest(): void {
    const h = this.order.shift()!;
    if (h.taken) return;
    this.chars -= h.size;
    this.held--;
    const list = this.byTask.get(h.key)!;
    // (a task's messages are in arrival order too: its oldest is this one)
    list.shift();
    if (list.length === 0) this.byTask.delete(h.key);
  }
}
