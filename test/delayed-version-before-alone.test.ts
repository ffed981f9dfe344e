/**
 * During a rolling upgrade either version's processes may be the ones running, and an upgrade
 * may be rolled back: a task delayed by a client of this version must still run when due while
 * only workers of the version before claim (clients upgraded first, or workers rolled back).
 * The version before promotes only `new-task:delayed` (keyed by id; a hash's place, when it has
 * one, is kept); it never reads `new-task:delayed:placed`.
 *
 * The version before is this library without `new-task:delayed:placed` (its name is one no key
 * has), as in delayed-mixed-versions.test.ts.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { library } from '../src/scripts.js';
import { claimArgs, claimKeys, parseClaim } from '../src/effects/queue.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor, requestFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

let loaded: string | undefined;
/** the version before, loaded beside this one: returns its functions' prefix */
async function versionBefore(): Promise<string> {
  if (loaded) return loaded;
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
  loaded = `ts_${hash}b_`;
  return loaded;
}

describe('a task delayed by this version, only workers of the version before claiming', () => {
  it('is claimed once due', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const before = await versionBefore();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('echo', { n: 1 }, { delay: 200 });
    await new Promise((r) => setTimeout(r, 400));
    const req = requestFor('old:1', 1, 1 << 20, ['echo']);
    const taken: string[] = [];
    for (let k = 0; k < 3 && !taken.length; k++) {
      const r = parseClaim(await redis.fcall(`${before}claim`, claimKeys(keys, req).length, ...claimKeys(keys, req), ...claimArgs(keys, req)));
      taken.push(...r.claimed.map((t) => t.id));
    }
    expect(taken, `state ${await redis.hget(keys.task(id), 'state')}`).toEqual([id]);
  });
});
