/**
 * A Client's calls while Redis is unreachable. A call made as Redis goes away waits in the
 * connection's queue for its reconnects (a restart, a Sentinel or Cluster failover takes
 * seconds), and fails when they run out. Without this guard each later call waited as long
 * again (ioredis counts the reconnects per command, 20 at a 1 s backoff: a web handler calling
 * `submit` hung 21 s per request through an outage) and failed with ioredis's own
 * "Reached the max retries per request limit", naming neither the server nor the cause.
 *
 * With it: once Redis has been unreachable for `patienceMs`, a new call fails at once, before
 * anything is sent (so it certainly did not run), until the connection is ready again. A call
 * still unanswered after `patienceMs` fails then: when it is still waiting for a connection it
 * is taken out of the queue, so it never runs (ioredis's own `commandTimeout` leaves it there,
 * to run at the reconnect after its caller was told it failed); when it was written (Redis holds
 * the connection but does not answer: frozen, or cut off by a network that drops packets instead
 * of resetting) it may still run when Redis wakes, and its error says so. Every failure for want
 * of Redis is a RedisUnavailableError naming the server and the socket's error. Only the Client
 * is guarded: workers and monitors ride an outage in their machines (redisDown), which decide
 * what waits.
 */
import type { Command } from 'ioredis';
import type { RedisConfig } from './config.js';
import { RedisUnavailableError } from './errors.js';
import { lastConnectionError, redisAddress, type Connection } from './redis.js';

/** ioredis's errors for a command that found no connection (its queue flushed, or closed under it) */
const NO_CONNECTION = /^(MaxRetriesPerRequestError|ClusterAllFailedError)$|^Connection is closed\.?$|^None of startup nodes is available/;

export function guardOutage(redis: Connection, c: RedisConfig, patienceMs: number): void {
  let downSince: number | undefined;
  const down = () => (downSince ??= Date.now());
  redis.on('close', down);
  redis.on('end', down);
  redis.on('ready', () => (downSince = undefined));
  const unavailable = (cause: string, e?: unknown) => new RedisUnavailableError(`cannot reach Redis at ${redisAddress(c)}: ${cause}`, e);
  const why = () => {
    const e = lastConnectionError(redis);
    return e && !(e instanceof RedisUnavailableError) ? e.message.trim().replace(/\s*\n\s*/g, ' ') : 'connection closed';
  };

  // A pipeline (MULTI included) is refused or let through whole: ioredis writes its commands
  // only once every one of them was handed over, so one refused while the others waited would
  // leave those in the connection's reply queue unwritten, and every later reply would go to the
  // call before it. Decided by its first command (each is handed over with the pipeline's stream).
  const pipelines = new WeakMap<object, boolean>();
  const send = redis.sendCommand.bind(redis) as (command: Command, ...rest: unknown[]) => unknown;
  (redis as { sendCommand: unknown }).sendCommand = (command: Command, ...rest: unknown[]) => {
    // (not while the socket is up and readying: ioredis's own handshake, its ready check
    // included, goes through here, and refusing it would keep the connection from ever coming back;
    // nor once it is ready: ioredis sends what waited in its queue as it turns ready, before its
    // 'ready' event clears downSince, and those calls would fail as Redis came back)
    let refuse = downSince !== undefined && redis.status !== 'connect' && redis.status !== 'ready' && Date.now() - downSince >= patienceMs;
    const pipeline = pipelineOf(rest[0]);
    if (pipeline) {
      const decided = pipelines.get(pipeline);
      if (decided === undefined) pipelines.set(pipeline, refuse);
      else refuse = decided;
    }
    if (refuse) {
      command.reject(unavailable(`unreachable for ${((Date.now() - (downSince ?? Date.now())) / 1000).toFixed(1)} s (${why()}); nothing was sent`));
      return command.promise;
    }
    // whether ioredis wrote it to a socket: a connection that closes under a written call (Redis
    // frozen, then the client closed; a Cluster node lost) may have let it run, and its error
    // must not say it only waited
    let written = false;
    const toWritable = command.toWritable.bind(command);
    command.toWritable = (socket: object) => {
      written = true;
      return toWritable(socket);
    };
    const reject = command.reject.bind(command);
    command.reject = (e: Error) =>
      reject(
        e instanceof Error && (NO_CONNECTION.test(e.name) || NO_CONNECTION.test(e.message))
          ? unavailable(written ? `${causeOf(e) ?? why()} after the call was sent; the call may still run when Redis answers` : `${causeOf(e) ?? why()} (gave up waiting for a connection)`, e)
          : e,
      );
    const timer = setTimeout(() => {
      // (a pipeline's commands leave the queue together, for the reason above)
      const taken = takeOffline(redis, (item) => item.command === command || (pipeline !== undefined && item.stream === pipeline));
      if (taken.includes(command) && !written) {
        const e = unavailable(`no connection within ${patienceMs / 1000} s (${why()}); nothing was sent`);
        for (const c of taken) c.reject(e);
      } else command.reject(unavailable(`no answer within ${patienceMs / 1000} s (frozen, overloaded, or cut off by a network that drops packets); the call may still run when it answers`));
    }, patienceMs);
    const clear = () => clearTimeout(timer);
    command.promise.then(clear, clear);
    return send(command, ...rest);
  };
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
 * Take the commands `which` picks out of the connection's offline queue (the commands that
 * wait for a connection), and return them: never written, they never will be. The queue is
 * not in ioredis's types (a Redis's and a Cluster's alike hold a Denque named offlineQueue of
 * { command, stream }): without one, nothing is taken, and the command counts as written.
 */
function takeOffline(redis: Connection, which: (item: { command: Command; stream?: unknown }) => boolean): Command[] {
  const queue = (redis as unknown as { offlineQueue?: { toArray(): { command: Command; stream?: unknown }[]; removeOne(i: number): unknown } }).offlineQueue;
  if (!queue || typeof queue.toArray !== 'function') return [];
  const items = queue.toArray();
  const taken: Command[] = [];
  for (let i = items.length - 1; i >= 0; i--) {
    if (!which(items[i]!)) continue;
    queue.removeOne(i);
    taken.unshift(items[i]!.command);
  }
  return taken;
}
