/**
 * The version before `new-task:delayed:placed`, on a test's Redis beside this one, as a rolling
 * upgrade (or a rollback) has them: this library with that key named as no key is, so that what
 * it promotes and cancels is `new-task:delayed` alone, keyed by id, as that version's were.
 * Its functions are this library's, under another prefix; loaded once per connection.
 */
import type { Redis } from 'ioredis';
import { expect } from 'vitest';
import { library } from '../../src/scripts.js';
import { claimArgs, claimKeys, parseClaim, type ClaimReply, type ClaimRequest } from '../../src/effects/queue.js';
import type { Keys } from '../../src/keys.js';

const loaded = new WeakMap<Redis, string>();

/** loads the version before on `redis`: its functions' prefix */
async function prefixOn(redis: Redis): Promise<string> {
  const known = loaded.get(redis);
  if (known) return known;
  const lib = library();
  const hash = lib.name.slice('taskswarm_'.length);
  const placed = "return Q .. ':delayed:placed'";
  expect(lib.code.includes(placed), 'placedDelayedKey found').toBe(true);
  const code = lib.code
    .replace(placed, "return Q .. ':delayed:unknown-to-the-version-before'")
    .split(`ts_${hash}_`)
    .join(`ts_${hash}b_`)
    .replace(`#!lua name=${lib.name}`, `#!lua name=${lib.name}b`);
  await redis.function('LOAD', 'REPLACE', code);
  loaded.set(redis, `ts_${hash}b_`);
  return `ts_${hash}b_`;
}

/** a claim by a worker of the version before */
export async function claimBefore(redis: Redis, keys: Keys, req: ClaimRequest): Promise<ClaimReply> {
  const before = await prefixOn(redis);
  const k = claimKeys(keys, req);
  return parseClaim(await redis.fcall(`${before}claim`, k.length, ...k, ...claimArgs(keys, req)));
}

/** a cancel by a client of the version before: what cancel.lua answered */
export async function cancelBefore(redis: Redis, keys: Keys, id: string): Promise<unknown> {
  const before = await prefixOn(redis);
  return redis.fcall(`${before}cancel`, 4, keys.task(id), keys.newQueue, keys.queued, keys.ended, id, `${keys.task(id)}-events`, '');
}

/** any function of the version before (its name as in src/lua), with its keys and arguments */
export async function fcallBefore(redis: Redis, name: string, keys: string[], args: (string | number)[]): Promise<unknown> {
  const before = await prefixOn(redis);
  return redis.fcall(`${before}${name}`, keys.length, ...keys, ...args);
}
