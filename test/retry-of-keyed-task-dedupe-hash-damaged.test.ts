/**
 * A task's dedupe key is freed at its end, not at a retry: a retry writes the task DELAYED and
 * its delayed sets, and leaves the key held (the task is not over). So the dedupe hash damaged by
 * hand (WRONGTYPE) refuses the END of a keyed task (test/refused-end-partial.test.ts), but not
 * its retry, which has nothing to write there: the retry is written, the task runs its next
 * attempt, and only its end waits for the hash to be mended.
 *
 * Refused, the retry waited with the end: the task held RUNNING on its failed attempt, its next
 * attempt never run, for as long as the hash stayed damaged.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { claimAs, keysFor } from './properties/harness.js';
import { submitTasks } from '../src/effects/queue.js';
import { finishTasks } from '../src/effects/end-batch.js';

let server: RedisServer;
let redis: Redis;
redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe('a keyed task whose dedupe hash is damaged', () => {
  it('is retried all the same; its end is refused until the hash is mended, then written and its key freed', async () => {
    const keys = keysFor(server.options().keyPrefix);
    const raw = JSON.stringify({ id: 'k-1', function: 'f', data: 1, attempts: 2 });
    expect(await submitTasks(redis, keys, [{ id: 'k-1', raw, fn: 'f', group: '', priority: 0, manualEnd: false, key: 'the-key' }])).toEqual([{ queued: true }]);
    const [first] = (await claimAs(redis, keys, 'w1:1', 1, 1_000_000, ['f'])).claimed;
    expect(first?.id).toBe('k-1');
    await redis.rename(keys.dedupe, `${keys.dedupe}:kept`);
    await redis.set(keys.dedupe, 'not a hash');

    const error = JSON.stringify({ name: 'Error', message: 'first attempt fails' });
    expect(await finishTasks(redis, keys, [{ id: 'k-1', lease: first!.lease, outcome: 'retry:0', payloadJson: error }])).toEqual([true]);
    expect(await redis.hget(keys.task('k-1'), 'state')).toBe('DELAYED');
    expect(await redis.zscore(keys.delayed, 'k-1')).not.toBeNull();

    // its next attempt runs; its end is what the damaged hash holds back
    const [second] = (await claimAs(redis, keys, 'w1:1', 1, 1_000_000, ['f'])).claimed;
    expect({ id: second?.id, attempt: second?.attempt }).toEqual({ id: 'k-1', attempt: 2 });
    const end = { id: 'k-1', lease: second!.lease, outcome: 'succeeded' as const, payloadJson: '"done"' };
    expect(await finishTasks(redis, keys, [end])).toEqual(['WRONGTYPE Operation against a key holding the wrong kind of value']);
    expect(await redis.hget(keys.task('k-1'), 'state')).toBe('RUNNING');

    await redis.del(keys.dedupe);
    await redis.rename(`${keys.dedupe}:kept`, keys.dedupe);
    expect(await finishTasks(redis, keys, [end])).toEqual([true]);
    expect(await redis.hget(keys.task('k-1'), 'state')).toBe('END');
    expect(await redis.hget(keys.dedupe, 'the-key')).toBeNull();
  });
});
