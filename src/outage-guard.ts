/**
 * A Client's calls while Redis is unreachable. A call made as Redis goes away waits in the
 * connection's queue for its reconnects (a restart, a Sentinel or Cluster failover takes
 * seconds), and fails when they run out. Without this guard each later call waited as long
 * again (ioredis counts the reconnects per command, 20 at a 1 s backoff: a web handler calling
 * `submit` hung 21 s per request through an outage) and failed with ioredis's own
 * "Reached the max retries per request limit", naming neither the server nor the cause; and a
 * call to a Redis that holds the connection but does not answer never settled.
 *
 * With it: once Redis has been unreachable for `patienceMs`, a new call fails at once, before
 * anything is sent (so it certainly did not run), until the connection is ready again.
 * Unreachable from the first try to connect or the last close, through the handshake: a server
 * that accepts and never answers (or a host that drops packets) closes nothing, and each call
 * waited its whole patience, five calls 30 to 42 s (test/client-silent-server.test.ts). A call
 * still unanswered after `patienceMs` fails then: when it is
 * still waiting for a connection it is taken out of the queue, so it never runs (ioredis's own
 * `commandTimeout` leaves it there, to run at the reconnect after its caller was told it
 * failed); when it was written (Redis frozen, or cut off by a network that drops packets
 * instead of resetting) it may still run when Redis wakes, and its error says so; and from then
 * on, while nothing written has been answered, a new call fails at once, as in an outage. Every failure
 * for want of Redis is a RedisUnavailableError naming the server and the socket's error, and
 * says whether the call was sent.
 *
 * What it costs a call: its place in the list of calls on their way that keeps the deadlines
 * (src/command-deadlines.ts, as the worker's); whether an overdue call was sent is told by
 * where ioredis holds it (waiting: its offline queue; else it was written), looked at only
 * then. Only the Client is guarded: workers and monitors ride an outage in their machines
 * (redisDown), which decide what waits.
 */
import { Cluster, Command as IoCommand, type ChainableCommander, type Command } from 'ioredis';
import { kCallbacks } from 'ioredis/built/autoPipelining.js';
import type { RedisConfig } from './config.js';
import { RedisUnavailableError } from './errors.js';
import { outOfReach } from './out-of-reach.js';
import { lastConnectionError, notRedisProtocol, redisAddress, tlsHint, type Connection } from './redis.js';
import { selectRefusal } from './db-select.js';
import { commandDeadlines, type StopDeadlines } from './command-deadlines.js';
import { neverSent, sentAgain } from './call-fate.js';
import { isClusterRedirect } from './cluster-redirect.js';

interface QueueItem {
  command: Command;
  stream?: unknown;
}
/** ioredis's queues (a Denque each): not in its types */
interface Queue {
  length: number;
  toArray(): QueueItem[];
  clear(): void;
  push(item: QueueItem): unknown;
  peekBack?(): QueueItem | undefined;
}
interface Internals {
  offlineQueue?: Queue;
  flushQueue?: (error: Error, options?: { offlineQueue?: boolean; commandQueue?: boolean }) => void;
  nodes?: (role: 'all') => Connection[];
}

/** marks a Command's reject that marks its errors as those of a call sent again */
const RESENT = Symbol('task-swarm sent again');

/** how long the oldest call written may go unanswered before later calls stop waiting behind it (directWhileStalled) */
export const SILENT_MS = 1000;

/** why a call fails whose connection was made and its handshake left unanswered (a server that accepts and stays silent) */
const SILENT_HANDSHAKE = 'connected, no answer to the handshake';

/** ioredis's errors for calls that found no connection (its queue flushed, or closed under them) */
const NO_CONNECTION = /^(MaxRetriesPerRequestError|ClusterAllFailedError)$|^Connection is closed\.?$|^None of startup nodes is available/;

/** a call's fate at its hand-over: written, or refused for a Redis that does not answer (`frozen`) or has no connection (`down`) */
type Verdict = false | 'frozen' | 'down';

/** Guard `redis`'s calls; returns what stops its deadlines (at close). */
export function guardOutage(redis: Connection, c: RedisConfig, patienceMs: number): StopDeadlines {
  const conn = redis as unknown as Internals;
  const cluster = redis instanceof Cluster;
  // (since the connection was first tried, or last lost: a server that accepts and never
  // answers gives no close, and a connection held in its handshake was never counted as down)
  let downSince: number | undefined = redis.status === 'ready' || redis.status === 'wait' ? undefined : performance.now();
  const down = () => (downSince ??= performance.now());
  redis.on('connecting', down);
  redis.on('close', down);
  redis.on('end', down);
  const handshake = ownHandshake(redis);
  // (ready once: the server has answered over this connection's TLS, if it has any)
  let answered = false;
  redis.on('ready', () => {
    downSince = undefined;
    answered = true;
  });
  // (a connection made whose handshake was never answered, now or when it last closed: a server
  // that accepts and stays silent; its next connection is tried as this one was)
  let inHandshake = false;
  let closedInHandshake = false;
  // A handshake is stuck, not under way, once unanswered for half the patience: a Redis back
  // answers it in two round trips (CLIENT SETNAME, then the ready check's INFO: 1.2 s over a link
  // of 300 ms each way), and each call made meanwhile waits for it (refused, past an outage's
  // patience, with Redis back: test/client-reconnect-handshake-not-refused.test.ts). So is the
  // next connection's, after one closed so (a silent server's ready check failed at its deadline);
  // not after one closed at once (a proxy in front of a Redis away accepts and closes).
  const stuckMs = patienceMs / 2;
  let connectedAt = 0;
  const stuck = () => closedInHandshake || (inHandshake && performance.now() - connectedAt >= stuckMs);
  redis.on('connect', () => {
    inHandshake = true;
    connectedAt = performance.now();
  });
  redis.on('ready', () => (inHandshake = closedInHandshake = false));
  redis.on('close', () => {
    closedInHandshake = stuck();
    inHandshake = false;
  });
  const direct = directWhileStalled(redis);
  // A Redis that froze with the connection ready (SIGSTOP, a blocking SAVE, a network that drops
  // packets and closes nothing): no close starts the outage's clock, and each call waited its own
  // whole patience, one after another (a web handler's submit hung 10 s per request for as long as
  // the freeze lasted). Once a call written has gone unanswered for the patience, the oldest call
  // written is noted, and while it stays the oldest (no answer since) and the connection ready, a
  // new call fails at once, nothing sent; the first answer, or a close, ends it. The calls
  // written keep ioredis's queue, so their answers are what says Redis woke: nothing polls.
  // (A Cluster's node connections are left as they are: a frozen primary's calls read the slots again.)
  // The call noted is the one at the front when some call went past its patience, which need
  // not be that one, nor written on this connection: a handshake call of a connection closed
  // before it was ready (ioredis drops it unsettled), a call waiting for the connection handed
  // over just before. The front then may have been written a moment before, on a Redis that
  // answers: its refusals start once the front itself has gone unanswered for the patience,
  // since it was written on this connection (`writtenAt`).
  let stalled: { front: unknown; since: number; from: number } | undefined;
  // (when each call was last written on this connection: a resend at a reconnect writes it anew)
  const writtenAt = new WeakMap<object, number>();
  const stillStalled = () => {
    if (stalled && redis.status === 'ready' && oldestWritten(redis) === stalled.front) return performance.now() >= stalled.from;
    stalled = undefined;
    return false;
  };
  // (a server at the address that answers in another protocol is reached, and is not Redis)
  const foreign = () => notRedisProtocol(lastConnectionError(redis)?.message ?? '');
  // (ending with what TLS may have to do with the connection's failure: rediss:// to a Redis
  // without TLS is silence, said by the socket's cause, not by the call's words; not once the
  // server has answered: a TLS Redis gone silent later, frozen or cut off, is not one without
  // TLS, and its user was told to write redis:// to it)
  const unavailable = (cause: string, e?: unknown) => {
    const notRedis = foreign();
    // (nor when its TLS was answered, and then Redis's handshake not)
    const silent = why();
    const hint = notRedis || answered || silent === SILENT_HANDSHAKE ? '' : tlsHint(c, silent);
    const error = new RedisUnavailableError(`${notRedis ? `the server at ${redisAddress(c)} ${notRedis}` : `cannot reach Redis at ${redisAddress(c)}`}: ${cause}${hint}`, e);
    return notRedis ? error : outOfReach(error);
  };
  const why = () => {
    const e = lastConnectionError(redis);
    if (foreign()) return 'not Redis';
    // (a connection made, and its handshake unanswered: a server that accepts and stays silent.
    // Said before the last error, which is of a connection tried earlier: "connect ECONNREFUSED"
    // from an outage's first seconds said of a server listening and silent since,
    // test/client-silent-after-outage-cause.test.ts)
    if (redis.status === 'connect') return SILENT_HANDSHAKE;
    if (e && !(e instanceof RedisUnavailableError)) return e.message.trim().replace(/\s*\n\s*/g, ' ');
    if (closedInHandshake && redis.status !== 'ready') return SILENT_HANDSHAKE;
    // (a first connection not yet made, without a word from the socket: the server is silent,
    // as a Redis without TLS is to rediss://, until the connect timeout)
    return redis.status === 'connecting' ? 'connecting, no answer yet' : 'connection closed';
  };

  // A pipeline (MULTI included) is refused or let through whole: ioredis writes its commands
  // only once every one of them was handed over, so one refused while the others waited would
  // leave those in the connection's reply queue unwritten, and every later reply would go to the
  // call before it. Decided by its first command (each is handed over with the pipeline's stream),
  // for all: the patience's time may run out between two of them.
  const pipelines = new WeakMap<object, Verdict>();
  // the calls handed over to a connection that could write them (not into ioredis's offline queue)
  const written = new WeakSet<Command>();
  // (the deadlines' own hand-over comes after the refusal: a call refused is not on its way)
  const stopDeadlines = commandDeadlines(redis, patienceMs, (commands) => failOverdue(commands));
  /** whether a call handed over now is refused, and why */
  const verdict = (command: Command, stream: unknown): Verdict => {
    if (stalled !== undefined && stillStalled()) return 'frozen';
    if (redis.status === 'end') return 'down';
    if (downSince === undefined) return false;
    // (not while the socket is up and readying: ioredis's own handshake, its ready check
    // included, goes through here, and refusing it would keep the connection from ever coming
    // back; nor once it is ready: ioredis sends what waited in its queue as it turns ready,
    // before its 'ready' event clears downSince)
    // (a connection dropped for a db the server does not have, src/db-select.ts: at once)
    // (a connection held in its handshake, the server silent: waiting too, but for ioredis's
    // own calls of that handshake; a handshake under way is waited for)
    const waiting = redis.status !== 'ready' && (redis.status !== 'connect' || (!cluster && stuck() && !handshake.own(command, stream)));
    return waiting && (performance.now() - downSince >= patienceMs || selectRefusal(redis, '') !== undefined) ? 'down' : false;
  };
  const send = redis.sendCommand.bind(redis) as (command: Command, ...rest: unknown[]) => unknown;
  (redis as { sendCommand: unknown }).sendCommand = (command: Command, ...rest: unknown[]) => {
    const pipe = pipelineOf(rest[0]);
    let refuse = pipe ? pipelines.get(pipe) : undefined;
    if (refuse === undefined) {
      refuse = verdict(command, rest[0]);
      if (pipe) pipelines.set(pipe, refuse);
    }
    if (refuse) {
      const refused = selectRefusal(redis, `Redis at ${redisAddress(c)}`);
      if (refused) {
        command.reject(refused);
        return command.promise;
      }
      const gone = refuse === 'frozen'
        ? `no answer for ${((performance.now() - stalled!.since) / 1000).toFixed(1)} s (frozen, overloaded, or cut off by a network that drops packets)`
        : downSince === undefined
          ? 'closed'
          : `unreachable for ${((performance.now() - downSince) / 1000).toFixed(1)} s (${why()})`;
      // (a call written before, handed over again: its first writing may have run)
      command.reject(written.has(command) ? sentBefore(gone) : neverSent(unavailable(`${gone}; nothing was sent`)));
      return command.promise;
    }
    // (a call written before, handed over again: ioredis resends what a closed connection left
    // unanswered; its first writing may have run, whatever the second is answered)
    if (written.has(command)) resending(command);
    // (the silence watch told after the write: see src/command-deadlines.ts, which does the same)
    const sent = send(command, ...rest);
    // (a Cluster's are told written by the node they are handed to: see below)
    if (!cluster && conn.offlineQueue?.peekBack?.()?.command !== command) {
      written.add(command);
      writtenAt.set(command, performance.now());
    }
    direct.sent(command);
    return sent;
  };

  // A Cluster hands each call to a node's connection, which writes it, or queues it while it
  // connects and writes it once ready; and it sends a call again on its own after a node's
  // connection closed under it (to the node, or to another that redirects it), past this guard.
  // So each node's connection says what it wrote: the Cluster's own queue is not where a call
  // waits for a node, and a call written from a node's queue, or sent again, went by no other way.
  if (cluster) {
    const watch = (node: Connection) => {
      const own = node.sendCommand.bind(node) as (command: Command, ...rest: unknown[]) => unknown;
      (node as { sendCommand: unknown }).sendCommand = (command: Command, ...rest: unknown[]) => {
        const before = written.has(command);
        if (before) resending(command);
        // (a connection ended refuses at once: nothing written)
        const ended = node.status === 'end';
        const sent = own(command, ...rest);
        if (before || ended || (node as unknown as Internals).offlineQueue?.peekBack?.()?.command === command) return sent;
        written.add(command);
        // (answered by a redirection, MOVED from a node that no longer serves its slot, this writing
        // did not run: the Cluster sends it on, and that is its first writing that may run)
        const reject = command.reject;
        const watched = (e: Error) => {
          if (command.reject === watched) command.reject = reject;
          if (isClusterRedirect(e)) written.delete(command);
          return reject(e);
        };
        command.reject = watched;
        return sent;
      };
    };
    for (const node of redis.nodes('all')) watch(node);
    redis.on('+node', watch);
  }

  // (a call written before: its error, whatever it is, does not say that nothing ran. The mark is
  // on the reject, not the command: a Cluster's pipeline sent again makes each command's promise
  // anew, its reject with it, and a command marked once went unmarked from its second resend on)
  const resending = (command: Command) => {
    if ((command.reject as { [RESENT]?: true })[RESENT]) return;
    const reject = command.reject;
    const marked = (e: Error) => reject(e instanceof Error ? sentAgain(e) : e);
    (marked as { [RESENT]?: true })[RESENT] = true;
    command.reject = marked;
  };
  // the error of a call written before and failed, handed over again, without being written again
  const sentBefore = (cause: string) => sentAgain(unavailable(`${cause}; sent before, its answer lost with the connection, and not sent again: its first sending may have run`));

  // ioredis fails the calls it gives up on in one flush (its reconnects run out, or the
  // connection ends): those of its offline queue were never written, those of its command queue were
  if (typeof conn.flushQueue === 'function') {
    const flush = conn.flushQueue.bind(redis);
    conn.flushQueue = (error, options) => {
      // (dropped for a db the server does not have: the refusal, naming the server as this client does)
      const refused = selectRefusal(redis, `Redis at ${redisAddress(c)}`);
      if (refused) return flush(refused, options);
      if (!(error instanceof Error) || !(NO_CONNECTION.test(error.name) || NO_CONNECTION.test(error.message))) return flush(error, options);
      const cause = foreign() ? why() : (causeOf(error) ?? why());
      const { offlineQueue = true, commandQueue = true } = options ?? {};
      if (offlineQueue) flush(neverSent(unavailable(`${cause} (gave up waiting for a connection); nothing was sent`, error)), { offlineQueue: true, commandQueue: false });
      if (commandQueue) flush(unavailable(`${cause} after the call was sent; the call may still run when Redis answers`, error), { offlineQueue: false, commandQueue: true });
    };
  }

  // A Cluster that has not yet learnt its slots holds a pipeline (a MULTI, an auto-pipeline's
  // batch) until it has, outside any queue: when its first connection fails (every node
  // unreachable, silent, or no TLS where it was asked for) it fails them with ioredis's bare
  // "None of startup nodes is available", which named no server, no cause and no TLS hint. They
  // were never written: said as a call that found no connection is.
  // And held past the patience, as a call in a queue is: ioredis holds them until the slots are
  // known, whatever the time, and a cluster whose nodes answer but serve no slot (not yet made
  // with `redis-cli --cluster create`, or every node of it reset) never gives any: each of the
  // Client's calls (an auto-pipeline's batch) waited for good, no error. ioredis hands a held
  // one back at each round its nodes answered, and it is held again at once, in that call:
  // it keeps the deadline it had.
  if (cluster) {
    const held = redis as unknown as { delayUntilReady(callback: (e?: Error | null) => void): void };
    const delay = held.delayUntilReady.bind(redis);
    let heldAgain: number | undefined;
    held.delayUntilReady = (callback) => {
      const deadline = heldAgain ?? performance.now() + patienceMs;
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        callback(neverSent(unavailable(`no connection within ${patienceMs / 1000} s (${why()}); nothing was sent`)));
      }, Math.max(0, deadline - performance.now()));
      timer.unref();
      delay((e) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (e) return callback(e instanceof Error && NO_CONNECTION.test(e.message) && !foreign() ? neverSent(unavailable(`${why()} (gave up waiting for a connection); nothing was sent`, e)) : e);
        heldAgain = deadline;
        try {
          callback(e);
        } finally {
          heldAgain = undefined;
        }
      });
    };
  }

  // Past their patience (src/command-deadlines.ts keeps the deadlines): a call waiting for a
  // connection is taken out of the queue, so never written (a pipeline's calls together); one
  // written is failed and left for its reply (or its resend) to find settled. Each queue is
  // looked through once for all the calls overdue at one check: an outage under load queues
  // thousands, and a pass per call made their failing quadratic.
  const failOverdue = (commands: Command[]) => {
    const late = new Set(commands);
    // (an error for each call: ioredis writes on a MULTI's its commands' errors, and one shared would list itself and show on every other call's)
    const unsentWhy = `no connection within ${patienceMs / 1000} s (${why()}); nothing was sent`;
    for (const node of [redis, ...(conn.nodes?.('all') ?? [])]) {
      const offline = (node as unknown as Internals).offlineQueue;
      if (!offline?.length) continue;
      const items = offline.toArray();
      const pipes = new Set<object>();
      for (const item of items) {
        const pipe = late.has(item.command) ? pipelineOf(item.stream) : undefined;
        if (pipe) pipes.add(pipe);
      }
      const out = (item: QueueItem) => late.has(item.command) || (pipes.size > 0 && pipes.has(pipelineOf(item.stream) as object));
      if (!items.some(out)) continue;
      // (the queue made again of what stays, in its order: one removal at a time shifts it each time)
      offline.clear();
      for (const item of items) {
        if (!out(item)) {
          offline.push(item);
          continue;
        }
        late.delete(item.command);
        // (one written before, waiting to be sent again: its first writing may have run)
        item.command.reject(written.has(item.command) ? sentBefore(`no connection within ${patienceMs / 1000} s (${why()})`) : neverSent(unavailable(unsentWhy)));
      }
    }
    if (late.size === 0) return;
    if (!cluster && redis.status === 'ready') {
      // (one noted before and answered since, not looked at by a call made after: dropped first)
      stillStalled();
      const front = oldestWritten(redis);
      if (stalled === undefined && front !== undefined) {
        const since = writtenAt.get(front as object) ?? performance.now() - patienceMs;
        stalled = { front, since, from: since + patienceMs + heldByServer(front) };
      }
    }
    const unanswered = `no answer within ${patienceMs / 1000} s (frozen, overloaded, or cut off by a network that drops packets); the call may still run when it answers`;
    for (const command of late) command.reject(unavailable(unanswered));
  };
  return Object.assign(
    () => {
      direct.stop();
      stopDeadlines();
    },
    { listed: stopDeadlines.listed },
  );
}

/**
 * While Redis is away, each call goes into ioredis's queue as it is made, with a deadline of its
 * own. Auto-pipelined, it would not: ioredis runs one batch at a time and holds every later call
 * behind the first one waiting for a connection, so a call made 9 s into an outage was handed
 * over only when that first one failed, at 10 s, and refused with it (the outage past its
 * patience), though Redis came back 0.3 s later. Turned off at the close, what it holds handed
 * over then (else a call made after would pass it), on again when the connection is ready:
 * ioredis writes its queue before it says so, so what waited there goes first.
 *
 * So too while Redis holds the connection and does not answer (frozen, or a network that drops
 * packets): no close comes, and each call waited behind the batch written first, for that
 * batch's patience, then for its own (a cancel made 3 s into a freeze failed 17 s after it was
 * made). Once the oldest call written has had no answer for `SILENT_MS`, auto-pipelining is off
 * and what it holds is handed over, in order; it is on again once Redis answers (the oldest call
 * written is no longer that one) on a ready connection. A Redis merely slow to answer (a long
 * script) costs the calls of that spell their batching, nothing else: they are written in the
 * order they were made, as before.
 *
 * (A Cluster's batches, one per node, are left as they are.)
 */
function directWhileStalled(redis: Connection): { sent(command: Command): void; stop(): void } {
  const inert = { sent() {}, stop() {} };
  if (redis instanceof Cluster || !redis.options.enableAutoPipelining) return inert;
  let closed = false;
  let silent = false;
  const set = () => {
    redis.options.enableAutoPipelining = !closed && !silent;
  };
  redis.on('close', () => {
    if (closed || redis.status === 'ready') return;
    closed = true;
    set();
    // (held behind a batch written before the close, they waited for its answer or its patience, then their own, and so did every call made after them)
    sendHeld(redis);
  });
  redis.on('ready', () => {
    if (!closed) return;
    closed = false;
    set();
  });

  if (typeof writtenQueue(redis)?.peekFront !== 'function') return inert;
  const front = () => oldestWritten(redis);
  // the oldest call written when last looked at, and since when it was that one
  let oldest: unknown;
  let since = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const look = () => {
    timer = undefined;
    if (stopped) return;
    const now = performance.now();
    const first = front();
    const answered = first !== oldest;
    if (answered) {
      oldest = first;
      since = now;
    }
    // (the call it waited for answered, or flushed with a closed connection, and the connection ready)
    if (silent && (answered || first === undefined) && redis.status === 'ready') {
      silent = false;
      set();
    } else if (!silent && first !== undefined && now - since >= SILENT_MS) {
      silent = true;
      set();
      sendHeld(redis);
    }
    // (looked at while something written waits, or while batching is off for it: a quiet connection arms nothing)
    if (silent) arm(SILENT_MS / 4);
    else if (first !== undefined) arm(since + SILENT_MS - now);
  };
  const arm = (ms: number) => {
    timer = setTimeout(look, Math.max(1, ms));
    timer.unref();
  };
  return {
    sent(command) {
      if (timer !== undefined || stopped) return;
      // (nothing written waits, or it would be armed: this call, once written, is the oldest)
      oldest = front() ?? command;
      since = performance.now();
      arm(SILENT_MS);
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/**
 * The calls written and not yet answered: ioredis's command queue (not in its types; made anew at
 * each connect). Another ioredis than the one this was written for: none (no silence watch, no
 * freeze rule, as before them).
 */
type Written = { length: number; peekFront?: () => { command?: unknown } | undefined };
const writtenQueue = (redis: Connection) => (redis as unknown as { commandQueue?: Written }).commandQueue;
/** the oldest call written on `redis` and not yet answered, if any */
function oldestWritten(redis: Connection): unknown {
  const q = writtenQueue(redis);
  return q && q.length > 0 && typeof q.peekFront === 'function' ? q.peekFront()?.command : undefined;
}

/**
 * How long Redis may rightly hold `command` before it answers, answering others meanwhile: a
 * WAIT (redis.durable, src/effects/durable.ts) for as long as its timeout while the replicas do
 * not acknowledge, and nothing behind it on the connection is answered before it. A durableTimeout
 * longer than the patience is a Redis answering: calls behind it wait their turn, not refused as
 * if it were frozen. (0: a WAIT with no timeout, held until the replicas answer: never taken for a freeze.)
 */
function heldByServer(command: unknown): number {
  const c = command as { name?: unknown; args?: unknown[] };
  const name = typeof c.name === 'string' ? c.name.toLowerCase() : '';
  const timeout = name === 'wait' ? c.args?.[1] : name === 'waitaof' ? c.args?.[2] : undefined;
  if (timeout === undefined) return 0;
  const ms = Number(timeout);
  return ms === 0 ? Infinity : Number.isFinite(ms) && ms > 0 ? ms : 0;
}

type Held = ChainableCommander & { [kCallbacks]: ((e: Error | null, v?: unknown) => void)[] | null };

/**
 * Hand over what ioredis's auto-pipeline holds now, in order, answering each call as ioredis does
 * (src/autoPipelining.ts there); calls made after go in batches of their own, after these. False
 * when this ioredis keeps its auto-pipeline otherwise than this was written for (nothing done).
 */
export function sendHeld(redis: Connection): boolean {
  const held = (redis as unknown as { _autoPipelines?: Map<string, Held> })._autoPipelines;
  // (another ioredis than the one this was written for: its calls wait as it holds them, rather
  // than a throw in a 'close' listener ending the process)
  if (!(held instanceof Map)) return false;
  for (const [slot, pipeline] of held) {
    held.delete(slot);
    const callbacks = pipeline[kCallbacks] ?? [];
    pipeline[kCallbacks] = null;
    void pipeline.exec((e, results) => {
      for (let i = 0; i < callbacks.length; i++) {
        if (e) process.nextTick(callbacks[i]!, e);
        else process.nextTick(callbacks[i]!, ...(results?.[i] ?? [null, undefined]));
      }
    });
  }
  return true;
}

/** what our own flush of a connection's queue (src/redis.ts failQueued) says went wrong: ioredis's own says nothing */
function causeOf(e: Error): string | undefined {
  return /^Reached the max retries per request limit \(which is \d+\): (.+)$/s.exec(e.message)?.[1];
}

/** the pipeline a command is handed over with (ioredis passes its stream), if any */
function pipelineOf(stream: unknown): object | undefined {
  return stream !== null && typeof stream === 'object' && (stream as { isPipeline?: unknown }).isPipeline === true ? stream : undefined;
}

/**
 * Which calls handed over while a connection readies (status `connect`) are ioredis's own: AUTH,
 * SELECT, CLIENT SETNAME, made as the status turns `connect`, and the ready check's INFO (made
 * again while Redis loads). Refused, they would keep the connection from ever turning ready; a
 * call of the Client's in that time (its own INFO, a GET) is one waiting for the connection. With
 * another ioredis than the one this was written for, every call ioredis writes during a
 * handshake (its HANDSHAKE_COMMANDS) is taken as its own.
 */
function ownHandshake(redis: Connection): { own(command: Command, stream: unknown): boolean } {
  const r = redis as unknown as { setStatus?: (status: string, arg?: unknown) => void; _readyCheck?: (callback: unknown) => void };
  if (redis instanceof Cluster || typeof r.setStatus !== 'function' || typeof r._readyCheck !== 'function') {
    return { own: (command, stream) => stream === undefined && IoCommand.checkFlag('HANDSHAKE_COMMANDS', command.name) };
  }
  let inside = 0;
  const setStatus = r.setStatus.bind(redis);
  r.setStatus = (status, arg) => {
    setStatus(status, arg);
    // (ioredis's connect handler makes its calls at once after it, in the same turn)
    if (status !== 'connect') return;
    inside++;
    queueMicrotask(() => inside--);
  };
  const readyCheck = r._readyCheck.bind(redis);
  r._readyCheck = (callback) => {
    inside++;
    try {
      readyCheck(callback);
    } finally {
      inside--;
    }
  };
  return { own: () => inside > 0 };
}
