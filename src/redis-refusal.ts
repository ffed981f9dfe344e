/**
 * Redis's refusals of a Client's call, as the library's typed errors: a caller meets a
 * TaskSwarmError with a code (README), where these came as ioredis's bare ReplyError (no code,
 * a MULTI's "EXECABORT Transaction discarded" naming neither the command nor why). The CLI says
 * them in these words too.
 */
import { PermissionError, RedisUnavailableError, TaskSwarmError } from './errors.js';

/** `e` as the caller of a Client's call is told it; `server` names the Redis ("Redis at redis://...") */
export function toldRefusal(e: unknown, server: string): unknown {
  if (!(e instanceof Error) || e instanceof TaskSwarmError) return e;
  const cause = discardedFor(e);
  const m = refusalText(cause)!;
  if (/^NOPERM|user executing the script can't/.test(m)) {
    const hint = /function\|load/.test(m)
      ? 'the function library is not loaded on this Redis, and this user may not load it: a worker or a monitor loads it when it starts (or load it as an admin; docs/deployments.md)'
      : "this Redis user's ACL does not allow it: acl/README.md says what each role (worker, monitor, producer, operator, dashboard) may run";
    return new PermissionError(`Redis refused: ${m} (${hint})`, { cause });
  }
  const full = /OOM command not allowed[^\n]*/.exec(m);
  if (full) return new RedisUnavailableError(`Redis refused the write: it is full (${full[0].trim()}): free memory on it (delete keys it no longer needs), or raise its maxmemory (CONFIG SET maxmemory)`, cause);
  if (/^WRONGPASS/.test(m)) return new RedisUnavailableError(`${server} refused the password: ${m}`, cause);
  if (/^NOAUTH/.test(m)) return new RedisUnavailableError(`${server} wants a password (redis.password): ${m}`, cause);
  if (/^READONLY/.test(m)) return new RedisUnavailableError(`${server} is a replica (${m}): every call that writes is refused there; give the primary (or the sentinels that name it)`, cause);
  return e;
}

/**
 * Whether `e` (as `toldRefusal` makes it) is a refusal that waiting does not mend: an ACL that
 * does not allow the call, a password wrong or missing. A wait that reads a task again and again
 * gives up at once on one (it polled until its timeout, or for ever, saying Redis "never
 * answered"); a full Redis, a replica, an outage pass.
 */
export function lastingRefusal(e: unknown): boolean {
  if (e instanceof PermissionError) return true;
  return /^(WRONGPASS|NOAUTH)/.test(refusalText(e instanceof RedisUnavailableError ? e.cause : e) ?? '');
}

/**
 * What Redis said refusing a call, as one line: its first line, without the "script: ..., on
 * @user_function:N" a refusal inside a script ends with; undefined when `e` is no reply of Redis's
 */
export function refusalText(e: unknown): string | undefined {
  if (!(e instanceof Error)) return undefined;
  return e.message.split('\n')[0]!.replace(/ script: \S+, on @user_(function|script):\d+\.?$/, '');
}

/** a MULTI discarded: the first of the errors its commands were refused with (ioredis keeps them) */
function discardedFor(e: Error): Error {
  if (!/^EXECABORT/.test(e.message)) return e;
  const previous = (e as { previousErrors?: unknown }).previousErrors;
  return (Array.isArray(previous) ? previous.find((p): p is Error => p instanceof Error) : undefined) ?? e;
}
