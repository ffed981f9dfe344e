/**
 * The order of a connection's scripts across a function library loaded again.
 *
 * A Redis that loses the library (FUNCTION FLUSH, a restart without persistence) answers
 * "Function not found" to every script sent from then on, until one of them has it loaded
 * again. Those scripts are sent again. Loaded and sent again at once, a call made meanwhile was
 * written after the load and before the resend, and passed it: a cancel made after a submit found
 * no task. So, per connection, while a reload is under way:
 *
 * - a script call made then is held, not sent, and a client's read made then takes its place
 *   among the held calls (`holdPlace`);
 * - once every script sent before it began has answered, the library is loaded (not before: a
 *   script still waiting in ioredis's auto-pipeline would be written after the load, and run
 *   before an earlier one that found it missing); on a Cluster after SILENT_NODE_GRACE_MS at
 *   most, so that one silent node does not hold every node's calls until their deadline (a
 *   script of it that finds the library missing after that is not sent again: `passedBelow`);
 * - then each that found it missing is sent again, in the order it was first sent (not the
 *   order its "not found" came back), and after them what was held, in the order it was made.
 *
 * A read sent after a script, before that script's "not found" came back, ran before it was
 * sent again: a client reads again in its place among the scripts sent again (`readMark`,
 * `readInPlace`).
 *
 * Calls are numbered as they are sent (Redis runs one connection's commands in that order; on a
 * Cluster, per node, and a reload holds every node's). A script sent again that finds the
 * library missing once more is not sent a third time: its caller is told.
 */
import { Cluster } from 'ioredis';
import { SILENT_NODE_GRACE_MS } from './each-primary.js';
import type { Connection } from './redis.js';

interface Resend {
  seq: number;
  /** its place in a pipeline sent as one call */
  sub: number;
  send: () => void;
  fail: (e: unknown) => void;
}

interface Reload {
  /** its number among the connection's reloads (`Line.begun` once begun) */
  id: number;
  /** the scripts sent before it began: those numbered below this */
  before: number;
  load: () => Promise<void>;
  loading: boolean;
  loaded: boolean;
  /** on a Cluster, the scripts sent before were waited for SILENT_NODE_GRACE_MS: loaded without the rest */
  waited?: boolean;
  timer?: NodeJS.Timeout;
  /** the load was refused (its error, told to each call that waited to be sent again) */
  refused?: { error: unknown };
  resends: Resend[];
  held: (() => void)[];
  /** resolves when the reload has ended: what was held is sent */
  ended: Promise<void>;
  end: () => void;
}

interface Line {
  /** a Cluster's: a reload waits at most SILENT_NODE_GRACE_MS for the scripts sent before */
  cluster: boolean;
  sent: number;
  /** reloads begun, ever */
  begun: number;
  /** scripts sent and not yet answered */
  unanswered: number;
  reload?: Reload;
  /** the last reload ended: the first script it sent again (Infinity: none), for `readInPlace` */
  ended?: { id: number; first: number };
  /**
   * scripts numbered below this were still unanswered when a Cluster's reload loaded without
   * them (`Reload.waited`) and ended: one that finds the library missing after that ran before
   * the load on its silent node, and the calls sent since ran after it: not sent again
   */
  passedBelow: number;
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
  return (held[LINE] ??= { cluster: redis instanceof Cluster, sent: 0, begun: 0, unanswered: 0, passedBelow: 0 });
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
  const ticket: Ticket = { seq: line.sent++, line, answered: false };
  try {
    return send(ticket);
  } catch (e) {
    // (a send that throws at once, not one that rejects: counted unanswered, it would keep every
    // later reload on this connection from ending)
    answered(ticket);
    return Promise.reject(e as Error);
  }
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
export function sendAgain<T>(ticket: Ticket, sub: number, load: () => Promise<void>, send: () => Promise<T>, missing?: unknown): Promise<T> {
  const line = ticket.line;
  // (a silent Cluster node's script, found missing after a reload that went on without it: the
  // calls made after it were sent once that reload ended, to its node too, and ran before it
  // would: sent again, a submit went in behind a cancel of its task; its caller is told)
  if (ticket.seq < line.passedBelow) return Promise.reject(missing instanceof Error ? missing : new Error(String(missing)));
  const reload = (line.reload ??= begin(line, load));
  return new Promise<T>((resolve, reject) => {
    reload.resends.push({ seq: ticket.seq, sub, send: () => settle(send, resolve, reject), fail: reject });
  });
}

/**
 * Resolves when the reload under way on `redis` has ended, its held calls sent; undefined when
 * none is (so a caller that waits only then keeps its place among calls made at once).
 */
export function reloading(redis: Connection): Promise<void> | undefined {
  return lineOf(redis).reload?.ended;
}

/**
 * Take a place among the calls held by the reload under way on `redis`, for a read made now (so
 * in call order: the calls made after it are sent after it): `run` is called there. False when
 * no reload is under way.
 */
export function holdPlace(redis: Connection, run: () => void): boolean {
  const reload = lineOf(redis).reload;
  if (!reload) return false;
  reload.held.push(run);
  return true;
}

/** A mark taken as a read is sent on `redis`, for `readInPlace` once it is answered. */
export interface ReadMark {
  /** the first reload that may send again a script sent before the read (one under way: it) */
  readonly from: number;
  /** the scripts sent before the read: those numbered below this */
  readonly sent: number;
}

/** `unwritten`: of the scripts made so far, those not written yet (held by ioredis's auto-pipeline: written after the read) */
export function readMark(redis: Connection, unwritten = 0): ReadMark {
  const line = lineOf(redis);
  return { from: line.reload ? line.begun : line.begun + 1, sent: line.sent - unwritten };
}

/** what `readInPlace` answers when the read must be made again once the reload has ended */
export const READ_AGAIN: unique symbol = Symbol('task-swarm read again');

/**
 * A read's answer, given when it was sent (`mark`). Did a script sent before it find the library
 * missing, and is it sent again? Then the read ran before it: it is made again (`again`) in its
 * place among the scripts sent again, after those sent before it and before those sent after
 * it and the calls held; a reload whose load was refused sends nothing again (each caller is
 * told), and the answer stands. Asked when the read is answered: Redis has answered every call
 * sent before it then, and once their replies have been passed on (a turn, while any is
 * unanswered: an auto-pipelined one reaches its caller a few promise steps after the batch's),
 * each that found it missing waits in the reload under way. READ_AGAIN: a reload that ended
 * already may have sent one again (made again after the reload, to be sure).
 */
export async function readInPlace<T>(redis: Connection, mark: ReadMark, answer: T, again: () => Promise<T>): Promise<T | typeof READ_AGAIN> {
  const line = lineOf(redis);
  if (line.unanswered > 0) await new Promise((r) => setImmediate(r));
  // (a reload begun from now on was begun by a script sent after the read)
  const begun = line.begun;
  if (begun < mark.from) return answer;
  // the reloads since the mark: the last one ended, and the one under way
  let known = 0;
  if (line.ended && line.ended.id >= mark.from) {
    known++;
    if (line.ended.first < mark.sent) return READ_AGAIN;
  }
  const reload = line.reload;
  if (reload && reload.id >= mark.from) {
    known++;
    if (reload.resends.some((r) => r.sub >= 0 && r.seq < mark.sent)) {
      return new Promise<T>((resolve, reject) => {
        // (sorted before a script sent right after the read: sub -1)
        reload.resends.push({ seq: mark.sent, sub: -1, send: () => settle(again, resolve, reject), fail: () => resolve(answer) });
      });
    }
  }
  // (more began and ended meanwhile than are known here: made again, to be sure)
  return known < begun - mark.from + 1 ? READ_AGAIN : answer;
}

/** `send` now, its outcome to `resolve` or `reject`, a throw at once too (endIfDone sends the rest after it) */
function settle<T>(send: () => Promise<T>, resolve: (v: T) => void, reject: (e: unknown) => void): void {
  try {
    send().then(resolve, reject);
  } catch (e) {
    reject(e);
  }
}

function begin(line: Line, load: () => Promise<void>): Reload {
  line.begun++;
  let end!: () => void;
  const ended = new Promise<void>((r) => (end = r));
  // (loaded once every script sent before has answered, endIfDone: written at once, the load
  // passed a script still held in ioredis's auto-pipeline, which then ran before one sent before
  // it that had found the library missing)
  const reload: Reload = { id: line.begun, before: line.sent, load, loading: false, loaded: false, resends: [], held: [], ended, end };
  // (on a Cluster, one silent node, frozen or cut off, leaves its scripts unanswered until their
  // deadline, and held every other node's calls that long: after the grace its primaries get in
  // the load, src/each-primary.ts, the load goes on; a script to a live node is written long
  // before, behind what ioredis's auto-pipeline held for it)
  if (line.cluster) {
    // (unref: the calls it waits for keep the process alive while they are owed an answer)
    reload.timer = setTimeout(() => {
      reload.waited = true;
      if (line.reload === reload) endIfDone(line);
    }, SILENT_NODE_GRACE_MS).unref();
  }
  return reload;
}

function endIfDone(line: Line): void {
  const reload = line.reload;
  if (!reload || (line.unanswered > 0 && !reload.waited)) return;
  if (!reload.loading) {
    reload.loading = true;
    clearTimeout(reload.timer);
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
  if (reload.waited && line.unanswered > 0) line.passedBelow = Math.max(line.passedBelow, reload.before);
  reload.resends.sort((a, b) => a.seq - b.seq || a.sub - b.sub);
  const first = reload.refused ? undefined : reload.resends.find((r) => r.sub >= 0);
  line.ended = { id: reload.id, first: first ? first.seq : Infinity };
  for (const r of reload.resends) {
    if (reload.refused) r.fail(reload.refused.error);
    else r.send();
  }
  for (const h of reload.held) h();
  reload.end();
}
