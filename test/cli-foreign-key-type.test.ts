/**
 * A key under the swarm's names that holds another kind of value (another program's key: the
 * swarm given a --key-prefix, or none, that another program uses too) is one line saying so and
 * what to do, status 1: not "unexpected error: WRONGTYPE Operation against a key holding the
 * wrong kind of value", which read as a fault of task-swarm's and named no way out. Whatever the
 * command met it in: a plain read (status), a script (submit).
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { expectOneLine, runMain } from './helpers/cli.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const SAID = /^task-swarm: Redis refused: WRONGTYPE Operation against a key holding the wrong kind of value \(a key under this swarm's names holds another kind of value, another program's key: give the swarm a --key-prefix of its own, or check --key-prefix and the key names\)\n$/;

describe("a key of the swarm's holding another kind of value", () => {
  it('status, the worker set a string: one line naming the cause and the way out, status 1', async () => {
    const prefix = server.options().keyPrefix;
    await redis.set(`${prefix}workers`, 'another program');
    const r = await runMain(['status', '--key-prefix', prefix], { REDIS_URL: server.url });
    expectOneLine(r, 1, SAID);
    expect(r.stderr).not.toMatch(/unexpected error/);
  });

  it('submit, the queue a string: one line naming the cause and the way out, status 1, the string kept', async () => {
    const prefix = server.options().keyPrefix;
    await redis.set(`${prefix}new-task`, 'another program');
    const r = await runMain(['submit', 'fn', '{}', '--key-prefix', prefix], { REDIS_URL: server.url });
    expectOneLine(r, 1, SAID);
    expect(r.stdout).toBe('');
    expect(await redis.get(`${prefix}new-task`)).toBe('another program');
  });
});
