/**
 * Pause and resume (claim.lua reads the `paused` set): a paused swarm (`*`) or function gets no
 * new claims, while running tasks go on. Resuming pushes a wake marker, so idle workers claim at
 * once rather than at their next poll.
 */
import type { Connection } from '../redis.js';
import type { Keys } from '../keys.js';
import { adminCallToken, runScript } from '../scripts.js';
import { ConfigError } from '../errors.js';
import { quote } from '../quote.js';
import { wellFormed } from '../wire.js';

const ALL = '*';

/**
 * The function to pause or resume (undefined: the swarm), checked. `*` is refused: in the paused
 * set it is the swarm's mark, so pausing a function of that name would pause every function, and
 * resuming it would resume a swarm paused as a whole.
 */
export function checkPauseTarget(what: 'pause' | 'resume', fn: unknown): string | undefined {
  if (fn === undefined) return undefined;
  if (typeof fn !== 'string' || fn === '') throw new ConfigError(`${what}: the function must be a non-empty string, got ${quote(fn)}`);
  // (a lone surrogate reaches Redis as U+FFFD: it would pause or resume the function named so)
  if (!wellFormed(fn)) throw new ConfigError(`${what}: the function name must be well-formed Unicode (it holds a lone surrogate), got ${quote(fn)}`);
  if (fn === ALL) throw new ConfigError(`${what}: the function name '*' marks the whole swarm in the paused set, so a function of that name cannot be ${what}d alone (${what}() with no function ${what}s the swarm)`);
  return fn;
}

/** pause.lua: with a token, as resume's, so that a pause sent again after a reconnect does not undo a resume made after it */
export async function pause(redis: Connection, keys: Keys, fn?: string): Promise<void> {
  await runScript(redis, 'pause', [keys.newQueue, keys.adminCalls], [fn ?? ALL, adminCallToken()]);
}

/** Resolves true when it was paused. */
export async function resume(redis: Connection, keys: Keys, fn?: string): Promise<boolean> {
  return (await runScript(redis, 'resume', [keys.newQueue, keys.adminCalls], [fn ?? ALL, adminCallToken()])) === 1;
}

/** what is paused: `all` for the swarm, and the functions paused one by one */
export async function paused(redis: Connection, keys: Keys): Promise<{ all: boolean; functions: string[] }> {
  const members = await redis.smembers(keys.paused);
  return { all: members.includes(ALL), functions: members.filter((m) => m !== ALL).sort() };
}
