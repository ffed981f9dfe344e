/**
 * Review of issue 8's submitMany: "all or nothing: when any id is taken, nothing is queued and
 * it rejects with a DuplicateTaskError" (Client.submitMany's contract).
 *
 * submitMany cuts its tasks into batches of 1000, one submit.lua call each, sent one after the
 * other: a batch is all or nothing, the call is not. With a taken id in the third batch, the
 * first two thousand tasks are queued (and may be running) when it rejects.
 *
 * Not fixed: a design decision. One script call for any number of tasks would block Redis for
 * as long as it takes (the issue asks for bounded calls); a read-only check of every id first
 * closes the common case (a list with a used id) but not a concurrent submit of the same id
 * between the check and the writes; undoing the batches written is unsafe once their tasks run.
 * Either the contract says "all or nothing per 1000 tasks" or the check-then-write narrowing is
 * chosen and documented.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, DuplicateTaskError } from '../src/index.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe('submitMany of more tasks than one batch', () => {
  it.fails('writes nothing when an id of a later batch is taken', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    await c.submit('echo', 'first', { id: 'taken-2500' });
    const tasks = Array.from({ length: 3000 }, (_, i) => ({ fn: 'echo', data: i, options: { id: `taken-${i}` } }));
    await expect(c.submitMany(tasks)).rejects.toBeInstanceOf(DuplicateTaskError);
    // only the task submitted before: nothing of the refused batch call
    expect(await redis.llen(keysFor(o.keyPrefix).newQueue)).toBe(1);
  });
});
