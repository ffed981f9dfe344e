/**
 * The two ways a command fails, and how any error becomes the one line the user sees: its exit
 * status (2 for a mistake in the command line, 1 for what went wrong while running) and its
 * message, with the library's option names turned into the flags the user typed.
 */
import { ConfigError, InvalidTaskError, ListenError, NotDurableError, TaskSwarmError } from '../errors.js';
import { toldRefusal } from '../redis-refusal.js';

/** A mistake in the command line: exit status 2. */
export class UsageError extends Error {}
/** Something that went wrong while running: exit status 1. */
export class RuntimeError extends Error {}
/** A wait that Ctrl-C (or SIGTERM) ended: exit status 130, as the signal's own would be. */
export class Interrupted extends RuntimeError {}

export const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * "Worker.concurrency must be >= 1" -> "--concurrency must be >= 1": name the flag the user typed
 * (a Client's own fields too: `submit --max-payload-bytes 0` said "Client.maxPayloadBytes").
 */
export function asFlags(e: unknown): unknown {
  // (a NotDurableError names redis.durable too: "... of the 1 replica(s) redis.durable asks for")
  if (!(e instanceof ConfigError) && !(e instanceof NotDurableError)) return e;
  const message = e.message
    .replace(/\bredis\.tls\.([A-Za-z]+)\b/g, (_m, key: string) => `--redis-tls-${key}`)
    .replace(/\bredis\.(url|sentinels|cluster|name|tls|durable|durableTimeout)\b/g, (_m, key: string) => `--redis-${kebab(key)}`)
    .replace(/\bredis\.sentinelPassword\b/g, '--redis-sentinel-password-file')
    .replace(/\b(?:Worker|Monitor|Client|redis)\.([A-Za-z]+)\b/g, (_m, key: string) => `--${kebab(key)}`);
  if (message === e.message) return e;
  return e instanceof NotDurableError ? new NotDurableError(message, e.taskIds, e.acknowledged) : new ConfigError(message);
}

/**
 * Redis's refusals (an ACL's NOPERM, a full Redis's OOM, a password, a replica) as one line that
 * says so, in the words the library's Client uses (src/redis-refusal.ts): a worker's or a
 * monitor's start, or a call made past the Client, still meets them bare. Inside MULTI a refused
 * command fails the whole transaction with "EXECABORT Transaction discarded because of previous
 * errors", which names neither the refusal nor the command: said by the first of them.
 */
export function redisRefusal(e: unknown): unknown {
  if (!(e instanceof Error) || e instanceof TaskSwarmError || e instanceof UsageError) return e;
  const told = toldRefusal(e, 'Redis');
  if (told !== e) return told;
  const previous = (e as { previousErrors?: unknown }).previousErrors;
  const first = Array.isArray(previous) ? previous.find((p): p is Error => p instanceof Error) : undefined;
  return /^EXECABORT/.test(e.message) && first ? new RuntimeError(`Redis refused: ${first.message}`) : e;
}

/**
 * Redis's WRONGTYPE as one line that says what it means here: a key the swarm reads or writes
 * holds another kind of value, some other program's key under the swarm's names (the same
 * --key-prefix, or none). It was "unexpected error: WRONGTYPE Operation against a key holding
 * the wrong kind of value", which read as a fault of task-swarm's and named no way out.
 */
export function wrongTypeRefusal(e: unknown): unknown {
  if (!(e instanceof Error) || e instanceof TaskSwarmError || e instanceof UsageError) return e;
  const m = /WRONGTYPE[^\n]*?(?= script:|$)/m.exec(e.message);
  if (!m) return e;
  return new RuntimeError(
    `Redis refused: ${m[0].trim()} (a key under this swarm's names holds another kind of value, another program's key: give the swarm a --key-prefix of its own, or check --key-prefix and the key names)`,
  );
}

export function exitCodeOf(e: unknown): number {
  if (e instanceof Interrupted) return 130;
  if (e instanceof UsageError || e instanceof ConfigError || e instanceof InvalidTaskError) return 2;
  return 1;
}

/** whether the message of `e` is meant for the user as it is (else it is a bug's, said so) */
export const isKnown = (e: unknown) => e instanceof UsageError || e instanceof RuntimeError || e instanceof TaskSwarmError;

/**
 * A ListenError with the flag that picks another port or address: the user's way out (a second
 * worker started on one host with the default --port met "port already in use", and no word of
 * the flag). `flags` are the port and host flags of what failed to listen.
 */
export function withListenFlag(e: unknown, flags: { port: string; host: string; anyPort?: boolean }): unknown {
  if (!(e instanceof ListenError)) return e;
  const code = (e.cause as NodeJS.ErrnoException | undefined)?.code;
  const byPort = code === 'EADDRINUSE' || code === 'EACCES';
  const flag = byPort ? `${flags.port}${flags.anyPort ? `, or ${flags.port} 0 for any free one` : ''}` : flags.host;
  return new ListenError(`${e.message} (pick another with ${flag})`, e.cause);
}
