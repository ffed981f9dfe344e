/**
 * The swarm's key names (`newQueue`, `taskSet`, `endQueue`, `workerSet`) must not be empty, as
 * `taskPrefix` must not: an empty one is a mistake (most often `--new-queue="$QUEUE"` with the
 * variable unset), refused in one line naming it. One was taken as given: a task submitted with
 * `--new-queue=` went to a list under the key prefix alone, which no worker of the swarm reads,
 * printing its id as if queued; and with an empty `--task-set=` beside it, `status` read that
 * list as the claimed set: "unexpected error: WRONGTYPE ...".
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, ConfigError } from '../src/index.js';
import { expectOneLine, runMain } from './helpers/cli.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const NAMES = [
  ['newQueue', '--new-queue'],
  ['taskSet', '--task-set'],
  ['endQueue', '--end-queue'],
  ['workerSet', '--worker-set'],
] as const;

describe('an empty key name', () => {
  it.each(NAMES)('redis.%s "": a ConfigError naming it', (name) => {
    expect(() => new Client({ redis: { ...server.options(), [name]: '' } })).toThrow(ConfigError);
    expect(() => new Client({ redis: { ...server.options(), [name]: '' } })).toThrow(new RegExp(`^redis\\.${name} must not be empty`));
  });

  it.each(NAMES.map(([name, flag]) => [flag, name]))('submit %s=: one line naming the option, status 2, nothing written', async (flag) => {
    const prefix = server.options().keyPrefix;
    const r = await runMain(['submit', 'fn', '{}', `${flag}=`, '--key-prefix', prefix], { REDIS_URL: server.url });
    expectOneLine(r, 2, new RegExp(`^task-swarm: ${flag} must not be empty`));
    expect(r.stdout).toBe('');
    expect(await redis.keys(`${prefix}*`)).toEqual([]);
  });

  it('status --task-set= beside a list under the prefix alone: one line naming the option, no WRONGTYPE', async () => {
    const prefix = server.options().keyPrefix;
    await redis.lpush(prefix, 'x');
    const r = await runMain(['status', '--task-set=', '--key-prefix', prefix], { REDIS_URL: server.url });
    expectOneLine(r, 2, /^task-swarm: --task-set must not be empty/);
    expect(r.stderr).not.toMatch(/WRONGTYPE|unexpected error/);
  });
});
