/**
 * Found in the review of issue 7 (item 6: the hash is the truth, an event is a hint). `wait` trusts an `end`
 * event when it finds no hash after it, to answer tasks cleaned up at once (endRetention 0). A
 * task pushed in the seed's way (`redis-cli LPUSH new-task ...`) has no hash and no queued mark
 * until a worker claims it, so an `end` anyone publishes for it ends the wait with an invented
 * END. The test failed before the fix.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe('wait on a task pushed by hand, still queued', () => {
  it('does not resolve on an end event nobody\'s runtime wrote', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    await redis.lpush(keys.newQueue, JSON.stringify({ id: 'seed-1', function: 'f', data: '{}' }));
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const waiting = c.wait('seed-1', { timeout: 3000, pollInterval: 100 }).then(
      (t) => `resolved ${t.state} ${t.outcome}`,
      (e: Error) => e.name,
    );
    // the wait subscribed (a forged end published before would test nothing), its first read back
    await until(async () => ((await redis.pubsub('NUMSUB', keys.events('seed-1'))) as [string, number])[1] > 0, 'the wait subscribed', 2500).catch(() => {});
    await new Promise((r) => setTimeout(r, 100));
    await redis.publish(keys.events('seed-1'), JSON.stringify({ event: 'end', data: { id: 'seed-1', outcome: 'succeeded', result: 42 }, at: Date.now() }));
    // what the review saw: "resolved END succeeded" (fromEndEvent), the entry still on the queue
    expect(await waiting).toBe('TimeoutError');
    expect(await redis.llen(keys.newQueue)).toBe(1);
  });
});
