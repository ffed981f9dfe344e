/**
 * Review of issue 9: a rate window forgets starts it still covers. The recent starts of a rate
 * limit live in a zset that expires 2 x `per` after the last start (so an idle target leaves
 * nothing behind). When the limit is set again with a longer window, the zset kept the old
 * expiry: once it passed, the starts inside the new window were gone and the next claims let
 * `max` more start at once (4 starts in a 4 s window limited to 2). Whether the old starts
 * counted depended on whether the zset had expired yet. Setting a limit now gives the zset the
 * new window's expiry, so every start inside any window of the limit in force counts.
 */
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import type { LimitTarget } from '../src/effects/limits.js';
import { spawnWorker } from './helpers/processes.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { intervals, maxStartsIn } from './helpers/limits.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a rate limit set again with a longer window', () => {
  it('still counts the starts its new window covers, for a function and for a group', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const w = await spawnWorker({ port: 0, redis: o, concurrency: 8, fetchTaskInterval: 30_000 });
    cleanup.push(() => w.kill());
    const cases: { target: LimitTarget; submit: () => Promise<string> }[] = [
      { target: { function: 'nap' }, submit: () => c.submit('nap', { ms: 0 }) },
      { target: { group: 'tenant-7' }, submit: () => c.submit('sleep', { ms: 0 }, { group: 'tenant-7' }) },
    ];
    const PER = 4000;
    const ids = cases.map(() => [] as string[]);
    for (const [i, k] of cases.entries()) {
      await c.setLimit(k.target, { rate: { max: 2, per: 300 } });
      for (let n = 0; n < 2; n++) ids[i]!.push(await k.submit());
    }
    for (const list of ids) for (const id of list) await c.wait(id, { timeout: 5000 });
    // the same max over a longer window: the two starts just made count against it
    for (const k of cases) await c.setLimit(k.target, { rate: { max: 2, per: PER } });
    await sleep(800); // past the old expiry (2 x 300 ms)
    for (const [i, k] of cases.entries()) for (let n = 0; n < 2; n++) ids[i]!.push(await k.submit());
    for (const list of ids) for (const id of list) await c.wait(id, { timeout: PER + 3000 });
    for (const [i, k] of cases.entries()) {
      const starts = (await intervals(c, ids[i]!)).map((x) => x.start);
      expect(maxStartsIn(PER, starts), `${JSON.stringify(k.target)} starts ${JSON.stringify(starts.map((s) => s - starts[0]!))}`).toBeLessThanOrEqual(2);
    }
  }, 15_000);
});
