/**
 * A retry's END sent again after its first try reached Redis (a timeout lost the answer) is
 * answered "written" and changes nothing, also once the next attempt runs: the script that
 * carried the retry may have claimed that attempt at once (finish-claim.lua), so the worker
 * resends a retry of a task that is RUNNING again under a new lease. It was answered "refused",
 * and the worker reported its attempt abandoned and "END refused, our lease is gone" for an END
 * it had written.
 */
import { expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { claim, finishAndClaim, submit } from '../src/effects/queue.js';
import { finishTasks } from '../src/effects/end-batch.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor, requestFor } from './properties/harness.js';

let redis: Redis;
redisPerFile((_s, r) => {
  redis = r;
});

it("a retry resent after the script that wrote it claimed the next attempt is answered written, and writes nothing", async () => {
  const keys = keysFor('resend:');
  const request = requestFor('w:1', 1, 10_000, ['f']);
  await submit(redis, keys, 'a', JSON.stringify({ id: 'a', function: 'f' }));
  const [first] = (await claim(redis, keys, request)).claimed;
  expect(first).toMatchObject({ id: 'a' });
  // the retry (due at once) and the claim in one script: the claim takes attempt 2
  const next = await finishAndClaim(redis, keys, [{ id: 'a', lease: first!.lease, outcome: 'retry:0', payloadJson: '{"message":"boom"}' }], request);
  expect(next.written).toEqual([true]);
  const [second] = next.claimed;
  expect(second).toMatchObject({ id: 'a' });
  expect(second!.lease).not.toBe(first!.lease);
  const before = await redis.hgetall(keys.task('a'));
  expect(before).toMatchObject({ state: 'RUNNING', lease: second!.lease, attempt: '2' });
  // the same retry again, as a worker sends it when the first answer was lost
  expect(await finishTasks(redis, keys, [{ id: 'a', lease: first!.lease, outcome: 'retry:0', payloadJson: '{"message":"boom"}' }])).toEqual([true]);
  expect(await redis.hgetall(keys.task('a'))).toEqual(before);
  // an END of another lease, never written, is still refused
  expect(await finishTasks(redis, keys, [{ id: 'a', lease: 'not-a-lease', outcome: 'failed', payloadJson: '"x"' }])).toEqual([false]);
});
