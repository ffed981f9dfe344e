/**
 * Pause and resume (claim.lua reads the `paused` set): a paused swarm (`*`) or function gets no
 * new claims, while running tasks go on. Resuming pushes a wake marker, so idle workers claim at
 * once rather than at their next poll.
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../keys.js';
import { runScript } from '../scripts.js';

const ALL = '*';

export async function pause(redis: Redis, keys: Keys, fn?: string): Promise<void> {
  await redis.sadd(keys.paused, fn ?? ALL);
}

/** Resolves true when it was paused. */
export async function resume(redis: Redis, keys: Keys, fn?: string): Promise<boolean> {
  return (await runScript(redis, 'resume', [keys.newQueue], [fn ?? ALL])) === 1;
}

/** what is paused: `all` for the swarm, and the functions paused one by one */
export async function paused(redis: Redis, keys: Keys): Promise<{ all: boolean; functions: string[] }> {
  const members = await redis.smembers(keys.paused);
  return { all: members.includes(ALL), functions: members.filter((m) => m !== ALL).sort() };
}
