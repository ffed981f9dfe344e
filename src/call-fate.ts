/**
 * Whether a script call that failed ran. A call made of several scripts (a submitMany's batches,
 * its shares over a swarm's partitions) tells its caller what ran and what did not
 * (PartlySubmittedError): made again whole, what ran would run twice. A script surely did not
 * run when it was never sent, or when Redis refused it before running it: out of memory, an ACL,
 * a replica, a dataset loading, a slot's move. An error raised inside the script (its message
 * names the function's line) came after what it had written; a call that Redis did not answer
 * may still run. Both may have run.
 */
import { ReplyError } from 'ioredis';
import { refusedMoving } from './scripts.js';
import { RedisUnavailableError } from './errors.js';

const unsent = new WeakSet<Error>();
const resent = new WeakSet<Error>();

/** `e` fails calls that were never written to Redis (src/outage-guard.ts) */
export function neverSent<E extends Error>(e: E): E {
  unsent.add(e);
  return e;
}

/**
 * `e` fails a call that was written before and sent again (ioredis resends what a closed
 * connection left unanswered): a refusal of the resend says nothing of the first, which may have run
 */
export function sentAgain<E extends Error>(e: E): E {
  resent.add(e);
  return e;
}

/**
 * `e` as the caller of `what` is told it: a call sent again and refused then (out of memory, an
 * ACL), its refusal told as it is, would say that it did not run, where its first sending may
 * have (made again, a submit's task would be queued twice); any other error as it is.
 */
export function toldAfterResend(e: unknown, what: string): unknown {
  if (!(e instanceof Error) || !resent.has(e) || !(e instanceof ReplyError)) return e;
  return new RedisUnavailableError(`${what}: its answer lost with the connection, it was sent again and refused then (${e.message}): its first sending may have run`, e);
}

/** Did the script call that failed with `e` surely not run? (For scripts that raise no error of their own, as submit.lua.) */
export function surelyNotRun(e: unknown): boolean {
  if (!(e instanceof Error) || resent.has(e)) return false;
  if (unsent.has(e) || refusedMoving(e)) return true;
  return e instanceof ReplyError && !raisedInScript(e);
}

/**
 * Was `e` raised by a command inside a script (WRONGTYPE on a key, a `redis.error_reply`)? Its
 * message then ends "script: …, on @user_function:N": Redis answered, and ran the script up to
 * there, so the trouble is that call's keys or data, not the connection or the server's state.
 */
export function raisedInScript(e: unknown): boolean {
  return e instanceof ReplyError && / script: \S+, on @user_(function|script):\d+\.?$/.test((e as Error).message);
}
