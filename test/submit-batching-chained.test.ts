/**
 * A producer that keeps submits in flight, each answer making the next, pays about one script
 * call per turn for the submits it makes in it: the ones made in reply to one batch's answers
 * go out together.
 *
 * Written against a submit path that wrote a turn's first submit at once (tried, measured, not
 * kept: bench/analysis.md, eighteenth session), where it failed: each turn's first went alone
 * and the rest after it, their answers came back in two reads, and the submit made in reply to
 * the lone one's answer was the first of a turn of its own: with ten in flight, 20,000 submits
 * took some 6,000 script calls where the batch path takes 2,000.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client } from '../src/index.js';
import { keysFor } from './properties/harness.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const fcalls = async () => Number(/cmdstat_fcall:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);

function client() {
  const o = server.options();
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return { c, prefix: o.keyPrefix };
}

describe('a producer with submits in flight', () => {
  it('ten in flight, each answer making the next: about one script call per round', async () => {
    const { c, prefix } = client();
    await c.submit('f', 'warm-up');
    await redis.del(keysFor(prefix).newQueue);
    const before = await fcalls();
    const total = 20_000;
    const lanes = 10;
    let made = 0;
    const lane = async () => {
      while (made < total) {
        made++;
        await c.submit('f', made);
      }
    };
    await Promise.all(Array.from({ length: lanes }, lane));
    const calls = (await fcalls()) - before;
    expect(await redis.llen(keysFor(prefix).newQueue)).toBe(total);
    expect(calls).toBeLessThanOrEqual(total / lanes + 20);
  });
});
