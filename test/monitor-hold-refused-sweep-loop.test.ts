/**
 * A Redis that answers PING and INFO (the same server) but refuses the sweep: at its maxmemory
 * (noeviction, the policy the docs ask for), requeue.lua is refused outright (OOM). The failed
 * sweep sends the monitor to probing; Redis answers at once as the same server, so it is active
 * again at once and sweeps again: a loop with no pause, each turn a refused script, a PING, an
 * INFO, a probe of every worker and a warning in the log. Before the holds, each return began a
 * grace of one taskTimeout: one refused sweep per taskTimeout.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Monitor } from '../src/index.js';
import { redisPerFile } from './helpers/suite.js';
import { until } from './helpers/redis-server.js';

let redis: Redis;
let o: () => Record<string, unknown>;
const cleanup = redisPerFile((s, r) => {
  redis = r;
  o = () => s.options();
});

async function atMaxmemory(): Promise<void> {
  await redis.config('SET', 'maxmemory-policy', 'noeviction');
  const used = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
  await redis.config('SET', 'maxmemory', String(Math.max(1024 * 1024, used - 256 * 1024)));
  await expect(redis.set('oom:probe', 'x')).rejects.toThrow(/OOM/);
}

describe('a monitor whose sweeps Redis refuses while it answers PING and INFO', () => {
  it('does not sweep again and again without a pause', async () => {
    cleanup.push(async () => void (await redis.config('SET', 'maxmemory', '0')));
    const warns: string[] = [];
    const infos: string[] = [];
    const m = new Monitor({
      redis: o(),
      taskTimeout: 2000,
      checkTaskInterval: 250,
      logger: { debug() {}, info: (s: unknown) => void infos.push(String(s)), warn: (s: unknown) => void warns.push(String(s)), error: (s: unknown) => void warns.push(String(s)) },
    });
    await m.start();
    cleanup.push(() => m.stop());
    await atMaxmemory();
    await until(() => warns.some((w) => /OOM/.test(w)), 'a refused sweep', 5000);
    const before = warns.filter((w) => /OOM/.test(w)).length;
    await new Promise((r) => setTimeout(r, 2000));
    const refused = warns.filter((w) => /OOM/.test(w)).length - before;
    const returns = infos.filter((l) => l.startsWith('Redis answers again')).length;
    // one taskTimeout (2 s): the grace held a refused sweep to one per taskTimeout; awaitRedis
    // asks every 250 ms. A handful is fine, hundreds are a busy loop.
    expect(refused, `refused sweeps in 2 s (Redis answers again ${returns} times)`).toBeLessThanOrEqual(10);
  }, 20_000);
});
