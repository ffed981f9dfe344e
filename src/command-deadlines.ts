/**
 * A deadline for every call on a connection, as ioredis's `commandTimeout` gives (the call
 * fails with "Command timed out" `timeoutMs` after it was handed over, and stays where it is
 * queued: a reply that comes later finds it settled), without a timer per call.
 *
 * Why: ioredis's option arms a `setTimeout` for each call and clears it at the reply. A worker
 * at concurrency 1 has one call on its way at a time, so each one made Node's timer list of that
 * duration anew and dropped it again: about 3% of the worker's CPU per task there (a profile of
 * a drain: the timer's insert, its unenroll and ioredis's _clearTimers). Here a call costs a time
 * stamp (and its place in a list of the calls on their way); one timer, armed while calls may be
 * on their way, fires at the oldest one's deadline, fails what is overdue and is armed again for
 * the next.
 */
import { Cluster, type Command, type Redis } from 'ioredis';
import type { Connection } from './redis.js';

/** when this try of a call was first handed to the connection, monotonic ms (a resend from a queue keeps it; a wall clock set forward must fail nothing) */
const HANDED = Symbol('task-swarm handed over at');
/** the promise the deadline is for: a Pipeline that sends its calls again (a redirection) gives each a new one, and a new deadline, as ioredis's timer did */
const PROMISE = Symbol('task-swarm deadline of');
/** failed for good: by its reply, a flush, or its deadline here (a Cluster's redirection is no failure: the call is sent again) */
const FAILED = Symbol('task-swarm failed');
type Stamped = Command & { [HANDED]?: number; [PROMISE]?: Promise<unknown>; [FAILED]?: true; isResolved?: boolean };

/** calls listed past which the settled ones are swept out of the list, wherever they are (see `sweep`) */
const SWEEP_MIN = 4096;

const settled = (c: Stamped) => c[FAILED] === true || c.isResolved === true || c[PROMISE] !== c.promise;

/**
 * fails `commands`, past their deadlines, handed over together (those of one check, in the order
 * they were handed to the connection): by default as ioredis's own timeout does
 */
export type Overdue = (commands: Command[]) => void;
const timedOut: Overdue = (commands) => {
  for (const command of commands) command.reject(new Error('Command timed out'));
};

/** stops the watch; `listed()`, the calls it holds now (settled ones not yet dropped included) */
export type StopDeadlines = (() => void) & { listed(): number };

/**
 * Give each call on `redis` a deadline of `timeoutMs`, past which `overdue` fails it (the
 * Client's outage guard says more: src/outage-guard.ts); returns what stops the watch (at close).
 */
export function commandDeadlines(redis: Connection, timeoutMs: number, overdue: Overdue = timedOut): StopDeadlines {
  // The calls handed over, in that order (so in the order of their deadlines), each with the
  // time it was handed: not looked for in ioredis's queues, where a call is not always. A
  // Cluster keeps one between redirections in a delay queue of its own (CLUSTERDOWN, MOVED,
  // TRYAGAIN, a node's connection closed), and a node it drops from its pool (its slots taken
  // by a promoted replica) is listed no more while what was written to it waits for its socket
  // to close. It costs no scan of every queue at each deadline either (a frozen Redis's queue
  // grows with every call failed there, and each was looked at again at every deadline).
  const calls: (Stamped | undefined)[] = [];
  const at: number[] = [];
  let head = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  /** the first entry still waiting for its reply (an entry is stale once its call is settled, or handed again as a new try) */
  const front = (): Stamped | undefined => {
    while (head < calls.length) {
      const c = calls[head]!;
      if (c[HANDED] === at[head] && !settled(c)) return c;
      calls[head++] = undefined;
    }
    calls.length = at.length = head = 0;
    return undefined;
  };
  // Answered calls are dropped at the front only, so one call that stays unanswered holds every
  // later one in the list, answered or not, until its deadline: a handshake call (CLIENT
  // SETNAME, the ready check's INFO) written on a connection that closed before it was ready is
  // one that way, since ioredis drops its queue then without settling it. A connection reset
  // mid-handshake then kept `timeoutMs` of every call made, each with its arguments and reply
  // (the Client's 10 s: tens of thousands of calls, tens of MB, at every reset of a busy
  // producer). So when the list has doubled since the last sweep, the settled ones are swept
  // out wherever they are: linear in the list, once per doubling, so constant per call.
  let sweepAt = SWEEP_MIN;
  const sweep = () => {
    let kept = 0;
    for (let i = head; i < calls.length; i++) {
      const c = calls[i];
      if (!c || c[HANDED] !== at[i] || settled(c)) continue;
      calls[kept] = c;
      at[kept++] = at[i]!;
    }
    calls.length = at.length = kept;
    head = 0;
    sweepAt = Math.max(SWEEP_MIN, 2 * kept);
  };
  // (judged after the I/O of the turn it comes due in: after a function held the event loop from
  // an I/O callback, the timers of the next turn run before the sockets are read, and calls whose
  // replies had come, waiting in the socket, failed as unanswered: a heartbeat, an END, a claim)
  const arm = (ms: number) => {
    timer = setTimeout(() => setImmediate(check), ms);
    timer.unref();
  };
  const check = () => {
    timer = undefined;
    if (stopped) return;
    const now = performance.now();
    // (together: what fails them may look through a queue as long as an outage made it, once)
    const late: Stamped[] = [];
    for (let c = front(); c; c = front()) {
      if (now - at[head]! < timeoutMs) {
        arm(at[head]! + timeoutMs - now);
        break;
      }
      calls[head++] = undefined;
      late.push(c);
    }
    if (late.length === 0) return;
    try {
      overdue(late);
    } finally {
      for (const c of late) c[FAILED] = true;
      // A Cluster learns that a slot moved from a MOVED reply or a closed connection: a primary
      // frozen (its socket open and silent) while its replica took over gives neither, and every
      // later call went to it, for good. A call overdue has it read the slots again.
      if (redis instanceof Cluster) redis.refreshSlotsCache(() => {});
    }
  };
  const watch = (conn: Connection) => {
    const send = conn.sendCommand.bind(conn) as (command: Command, ...rest: unknown[]) => unknown;
    (conn as { sendCommand: unknown }).sendCommand = (command: Stamped, ...rest: unknown[]) => {
      // (a call sent again from a queue keeps its deadline; one failed already has none)
      if (stopped || command[PROMISE] === command.promise) return send(command, ...rest);
      const now = performance.now();
      command[PROMISE] = command.promise;
      command[HANDED] = now;
      command[FAILED] = undefined;
      const reject = command.reject;
      command.reject = (e: Error) => {
        command[FAILED] = true;
        reject.call(command, e);
      };
      // Written first, listed after: an idle connection's call arms the timer, and that is
      // time between the call and its bytes leaving, which an idle producer's submit waits
      // through on its way to a waiting worker (no reply can come before this returns).
      const sent = send(command, ...rest);
      // (answered calls at the front dropped first: at concurrency 1 the list stays one long)
      front();
      if (head > 1024 && head * 2 > calls.length) {
        calls.splice(0, head);
        at.splice(0, head);
        head = 0;
      }
      calls.push(command);
      at.push(now);
      if (calls.length - head >= sweepAt) sweep();
      if (timer === undefined) arm(timeoutMs);
      return sent;
    };
  };
  watch(redis);
  // A Cluster's calls on one node's connection itself (INFO and FUNCTION LOAD of each primary:
  // src/server-version.ts, src/scripts.ts; its ready check) have theirs too, as the nodes'
  // `commandTimeout` gave them (a call the Cluster passes on to a node keeps its own)
  if (redis instanceof Cluster) {
    for (const node of redis.nodes('all')) watch(node);
    redis.on('+node', (node: Redis) => watch(node));
  }
  return Object.assign(
    () => {
      stopped = true;
      clearTimeout(timer);
      // (nothing is failed from here on: what is listed would only be kept, with the connection)
      calls.length = at.length = head = 0;
    },
    // (for tests: how many calls the list holds, settled ones not yet dropped included)
    { listed: () => calls.length - head },
  );
}
