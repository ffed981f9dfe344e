/**
 * The order of a connection's scripts across a function library loaded again.
 *
 * A Redis that loses the library (FUNCTION FLUSH, a restart without persistence) answers
 * "Function not found" to every script sent from then on, until one of them has it loaded
 * again. Those scripts are sent again. Loaded and sent again at once, a call made meanwhile was
 * written after the load and before the resend, and passed it: a cancel made after a submit found
 * no task. So, per connection, while a reload is under way:
 *
 * - a script call made then is held, not sent (and a client's reads wait: `reloading`);
 * - once every script sent before it began has answered, the library is loaded (not before: a
 *   script still waiting in ioredis's auto-pipeline would be written after the load, and run
 *   before an earlier one that found it missing); then each that found it missing is sent
 *   again, in the order it was first sent (not the order its "not found" came back), and after
 *   them what was held, in the order it was made.
 *
 * A read sent after a script, before that script's "not found" came back, ran before it was
 * sent again: a client reads again after the reload (`readMark`, `passedBy`).
 *
 * Calls are numbered as they are sent (Redis runs one connection's commands in that order; on a
 * Cluster, per node, and a reload holds every node's). A script sent again that finds the
 * library missing once more is not sent a third time: its caller is told.
 */
import type { Connection } from './redis.js';

interface Resend {
  seq: number;
  /** its place in a pipeline sent as one call */
  sub: number;
  send: () => void;
  fail: (e: unknown) => void;
}

interface Reload {
  load: () => Promise<void>;
  loading: boolean;
  loaded: boolean;
  /** the load was refused (its error, told to each call that waited to be sent again) */
  refused?: { error: unknown };
  resends: Resend[];
  held: (() => void)[];
  /** resolves when the reload has ended: what was held is sent */
  ended: Promise<void>;
  end: () => void;
}

interface Line {
  sent: number;
  /** reloads begun, ever */
  begun: number;
  /** scripts sent and not yet answered */
  unanswered: number;
  reload?: Reload;
}

/** One script call (or pipeline of scripts) sent in a connection's line. */
export interface Ticket {
  readonly seq: number;
  readonly line: Line;
  answered: boolean;
}

const LINE = Symbol('task-swarm script line');

function lineOf(redis: Connection): Line {
  const held = redis as Connection & { [LINE]?: Line };
  return (held[LINE] ??= { sent: 0, begun: 0, unanswered: 0 });
}

/**
 * Send a script call now, or, while a reload is under way, once it ends, in call order. `send`
 * must call `answered(ticket)` when Redis has answered (after `sendAgain` for each script Redis
 * did not find).
 */
export function inLine<T>(redis: Connection, send: (ticket: Ticket) => Promise<T>): Promise<T> {
  const line = lineOf(redis);
  const reload = line.reload;
  if (reload) return new Promise<T>((resolve, reject) => reload.held.push(() => inLine(redis, send).then(resolve, reject)));
  line.unanswered++;
  return send({ seq: line.sent++, line, answered: false });
}

/** Redis has answered the call: a reload that waited only for it ends. */
export function answered(ticket: Ticket): void {
  if (ticket.answered) return;
  ticket.answered = true;
  ticket.line.unanswered--;
  endIfDone(ticket.line);
}

/**
 * A script of this call that Redis did not find: sent again by `send` once every call sent
 * before the reload began has answered and `load` has loaded the library (one load per reload).
 * Its reply, or the load's refusal.
 */
export function sendAgain<T>(ticket: Ticket, sub: number, load: () => Promise<void>, send: () => Promise<T>): Promise<T> {
  const line = ticket.line;
  const reload = (line.reload ??= begin(line, load));
  return new Promise<T>((resolve, reject) => {
    reload.resends.push({ seq: ticket.seq, sub, send: () => void send().then(resolve, reject), fail: reject });
  });
}

/**
 * Resolves when the reload under way on `redis` has ended, its held calls sent; undefined when
 * none is (so a caller that waits only then keeps its place among calls made at once).
 */
export function reloading(redis: Connection): Promise<void> | undefined {
  return lineOf(redis).reload?.ended;
}

/** A mark taken as a read is sent on `redis`, for `passedBy` once it is answered. */
export function readMark(redis: Connection): number {
  return lineOf(redis).begun;
}

/**
 * Did a script sent before this read find the library missing (the read, not a script, ran
 * before it was sent again: it must be made again once the reload has ended)? Asked when the
 * read is answered: Redis has answered every call sent before it then, and once their replies
 * have been passed on (a turn, while any is unanswered: an auto-pipelined one reaches its caller
 * a few promise steps after the batch's), each that found it missing has begun a reload.
 */
export async function passedBy(redis: Connection, mark: number): Promise<boolean> {
  const line = lineOf(redis);
  if (line.unanswered > 0) await new Promise((r) => setImmediate(r));
  return line.begun !== mark;
}

function begin(line: Line, load: () => Promise<void>): Reload {
  line.begun++;
  let end!: () => void;
  const ended = new Promise<void>((r) => (end = r));
  // (loaded once every script sent before has answered, endIfDone: written at once, the load
  // passed a script still held in ioredis's auto-pipeline, which then ran before one sent before
  // it that had found the library missing)
  return { load, loading: false, loaded: false, resends: [], held: [], ended, end };
}

function endIfDone(line: Line): void {
  const reload = line.reload;
  if (!reload || line.unanswered > 0) return;
  if (!reload.loading) {
    reload.loading = true;
    reload.load().then(
      () => {
        reload.loaded = true;
        endIfDone(line);
      },
      (error: unknown) => {
        reload.loaded = true;
        reload.refused = { error };
        endIfDone(line);
      },
    );
    return;
  }
  if (!reload.loaded) return;
  line.reload = undefined;
  reload.resends.sort((a, b) => a.seq - b.seq || a.sub - b.sub);
  for (const r of reload.resends) {
    if (reload.refused) r.fail(reload.refused.error);
    else r.send();
  }
  for (const h of reload.held) h();
  reload.end();
}
