/**
 * Every background loop keeps up with any sustained rate the workers can produce, or says it is
 * behind and catches up (issue 7, item 2). The monitor's cleanup used to take 250 ended tasks per
 * sweep and sweep again at once only when requeues reached 250: above ~17 ends a second (the
 * default checkTaskInterval), `tasks`, `tasks:ended` and the unexpired hashes grew until Redis ran
 * out of memory.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Monitor, Worker, type SweepResult } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe('the monitor keeps up with the ends', () => {
  it('ended tasks arriving faster than one small pass cleans are all cleaned by the next sweep', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    const w = new Worker({ port: 0, redis: o, concurrency: 100, logger: quiet });
    w.addTaskFunction('noop', () => null);
    // checkTaskInterval as in production: the monitor sleeps between sweeps while tasks run
    const m = new Monitor({ redis: o, checkTaskInterval: 1000, logger: quiet });
    cleanup.push(() => c.close(), () => w.stop(), () => m.stop());
    await m.start();
    const ids = await Promise.all(Array.from({ length: 6000 }, (_, i) => c.submit('noop', i)));
    await w.start();
    // nothing queued, nothing running: every task has ended
    await until(async () => (await redis.llen(`${o.keyPrefix}new-task`)) + (await redis.zcard(`${o.keyPrefix}tasks:leases`)) === 0, 'every task ended', 30_000);
    expect((await c.get(ids.at(-1)!))?.state).toBe('END');
    // within the next sweeps (one a second at most), not the 24 passes of 250 it took before
    await until(async () => (await redis.scard(`${o.keyPrefix}tasks`)) === 0 && (await redis.llen(`${o.keyPrefix}tasks:ended`)) === 0, '`tasks` drained', 3000);
  });

  it('a backlog bigger than one sweep may work through is reported as behind, logged, and cleaned by the sweeps that follow at once', async () => {
    const o = server.options();
    const ended = `${o.keyPrefix}tasks:ended`;
    // 300,000 ended tasks waiting (ids only: cleanup takes them out of `tasks` all the same)
    for (let i = 0; i < 300; i++) {
      const ids = Array.from({ length: 1000 }, (_, j) => `t${i * 1000 + j}`);
      await redis.multi().rpush(ended, ...ids).sadd(`${o.keyPrefix}tasks`, ...ids).exec();
    }
    const warnings: string[] = [];
    const sweeps: SweepResult[] = [];
    const m = new Monitor({ redis: o, logger: { ...quiet, warn: (msg: unknown) => warnings.push(String(msg)) } });
    m.on('sweep', (r: SweepResult) => sweeps.push(r));
    cleanup.push(() => m.stop());
    await m.start();
    await until(async () => (await redis.llen(ended)) === 0, 'the backlog cleaned', 20_000);
    expect(await redis.scard(`${o.keyPrefix}tasks`)).toBe(0);
    expect(sweeps[0]).toMatchObject({ behind: true });
    expect(sweeps[0]!.backlog).toBeGreaterThan(0);
    expect(warnings.filter((w) => /sweep is behind: \d+ ended task\(s\) still wait for cleanup/.test(w))).toHaveLength(1);
    // no wait between the sweeps of a backlog: all of it well within checkTaskInterval (15 s).
    // (The sweep that emptied the list reports it once its script has answered: a moment after
    // the list reads empty here, so that report is waited for, not read at once.)
    await until(() => sweeps.at(-1)!.backlog === 0, 'a sweep reporting no backlog', 5000);
  });
});
