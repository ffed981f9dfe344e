/**
 * An END sent again on its own when the script that carried it failed (EndBatch: a lost reply,
 * a timeout) must be answered as written when its first send was (finish.lua accepts its own
 * retry). A retry's END carries the next claim of its id in the same script (finish-claim.lua):
 * with the reply lost after Redis ran it, the task is RUNNING under the new claim's lease when
 * the END comes again, and finish.lua answered it fenced. The old attempt's machine then took
 * itself for abandoned: counted abandoned, its END counted fenced, its run counted a duplicate,
 * "END refused, our lease is gone" logged, though its retry was written.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { EndBatch, type Ending } from '../src/effects/end-batch.js';
import { claim, finishAndClaim, submit } from '../src/effects/queue.js';
import { loadLibrary } from '../src/scripts.js';
import { keysFor, requestFor } from './properties/harness.js';
import { redisPerFile } from './helpers/suite.js';

let redis: Redis;
redisPerFile((_, r) => {
  redis = r;
});

const REQUEST = requestFor('w:1', 1, 10_000, ['f']);

describe("a retry's END sent again after the reply of the script that carried it was lost", () => {
  it('is answered written, though its task was claimed again in that script', async () => {
    const keys = keysFor('resend:');
    await loadLibrary(redis);
    await submit(redis, keys, 'x', JSON.stringify({ id: 'x', function: 'f', attempts: 2 }));
    const [first] = (await claim(redis, keys, REQUEST)).claimed;
    const retry: Ending = { id: 'x', lease: first!.lease, outcome: 'retry:0', payloadJson: '{"message":"boom"}' };
    let claimedAgain: string | undefined;
    const batch = new EndBatch(redis, keys, () => {
      // as the worker claims for the freed slot: the END rides along; Redis runs the script,
      // and its reply is lost on the way back
      const ends = batch.takeOutgoing()!;
      ends.carriedBy(
        finishAndClaim(redis, keys, ends.endings, REQUEST).then((r) => {
          claimedAgain = r.claimed[0]?.lease;
          throw new Error('Command timed out');
        }),
      );
    });
    expect(await batch.end(retry)).toBe(true);
    // (the script did run: the retry written, and due at once, claimed again under a new lease)
    expect(claimedAgain).toBeDefined();
    expect(claimedAgain).not.toBe(first!.lease);
    expect(await redis.hmget(keys.task('x'), 'state', 'lease', 'retry_lease')).toEqual(['RUNNING', claimedAgain, first!.lease]);
  });
});
