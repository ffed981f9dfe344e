/**
 * A deadline for every call on a connection, as ioredis's `commandTimeout` gives (the call
 * fails with "Command timed out" `timeoutMs` after it was handed over, and stays where it is
 * queued: a reply that comes later finds it settled), without a timer per call.
 *
 * Why: ioredis's option arms a `setTimeout` for each call and clears it at the reply. A worker
 * at concurrency 1 has one call on its way at a time, so each one made Node's timer list of that
 * duration anew and dropped it again: about 3% of the worker's CPU per task there (a profile of
 * a drain: the timer's insert, its unenroll and ioredis's _clearTimers). Here a call costs a time
 * stamp; one timer, armed while calls may be on their way, fires at the oldest one's deadline,
 * fails what is overdue and is armed again for the next.
 */
import type { Command } from 'ioredis';
import type { Connection } from './redis.js';

/** when a call was first handed to the connection, monotonic ms (a resend from a queue keeps it; a wall clock set forward must fail nothing) */
const HANDED = Symbol('task-swarm handed over at');
/** failed here already (it stays queued until its reply, or a flush, finds it) */
const OVERDUE = Symbol('task-swarm overdue');
type Stamped = Command & { [HANDED]?: number; [OVERDUE]?: true };

interface Queue {
  length: number;
  toArray(): { command: Stamped }[];
}
/** ioredis's queues (a Denque each), and a Cluster's node connections: not in its types */
interface Internals {
  offlineQueue?: Queue;
  commandQueue?: Queue;
  prevCommandQueue?: Queue | null;
  nodes?: (role: 'all') => Connection[];
}

/** Give each call on `redis` a deadline of `timeoutMs`; returns what stops the watch (at close). */
export function commandDeadlines(redis: Connection, timeoutMs: number): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const arm = (ms: number) => {
    timer = setTimeout(check, ms);
    timer.unref();
  };
  const check = () => {
    timer = undefined;
    if (stopped) return;
    const now = performance.now();
    let oldest = Infinity;
    const conn = redis as unknown as Internals;
    for (const node of [redis, ...(conn.nodes?.('all') ?? [])]) {
      const q = node as unknown as Internals;
      for (const queue of [q.offlineQueue, q.commandQueue, q.prevCommandQueue]) {
        if (!queue?.length) continue;
        for (const { command } of queue.toArray()) {
          const at = command[HANDED];
          if (at === undefined || command[OVERDUE] || (command as { isResolved?: boolean }).isResolved) continue;
          if (now - at >= timeoutMs) {
            command[OVERDUE] = true;
            command.reject(new Error('Command timed out'));
          } else if (at < oldest) oldest = at;
        }
      }
    }
    if (oldest !== Infinity) arm(oldest + timeoutMs - now);
  };
  const send = redis.sendCommand.bind(redis) as (command: Command, ...rest: unknown[]) => unknown;
  (redis as { sendCommand: unknown }).sendCommand = (command: Stamped, ...rest: unknown[]) => {
    command[HANDED] ??= performance.now();
    if (timer === undefined && !stopped) arm(timeoutMs);
    return send(command, ...rest);
  };
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
