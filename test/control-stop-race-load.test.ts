/**
 * Control stops racing ENDs under load: tasks whose first attempt fails (retried at once, the
 * END carrying the claim of the retry: finish-claim.lua), stopped at random moments, beside tasks
 * never stopped; then every id submitted again once its hash is gone (deleted, as endRetention does). Nothing
 * strands (every task ends), no id runs twice at once, a task never stopped never ends stopped or
 * cancelled, and no mark of the first round stops a run of the second.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Monitor, Worker } from '../src/index.js';
import { buildKeys } from '../src/keys.js';
import { resolveRedisConfig } from '../src/config.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('control stops racing ENDs and retries under load', () => {
  it('strand, duplicate or wrongly stop nothing, and leave nothing for the same ids run again', async () => {
    const o = server.options();
    const keys = buildKeys(resolveRedisConfig(o));
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const running = new Map<string, number>();
    let overlap = 0;
    const attempts = new Map<string, number>();
    const fn = (t: { id: string; signal: AbortSignal; data: unknown }) =>
      new Promise((resolve, reject) => {
        const n = (running.get(t.id) ?? 0) + 1;
        if (n > 1) overlap++;
        running.set(t.id, n);
        const a = (attempts.get(t.id) ?? 0) + 1;
        attempts.set(t.id, a);
        const done = () => running.set(t.id, (running.get(t.id) ?? 1) - 1);
        const ms = 5 + Math.floor(Math.random() * 40);
        const timer = setTimeout(() => {
          done();
          if (a === 1 && (t.data as { fail: boolean }).fail) reject(new Error('first attempt fails'));
          else resolve('ok');
        }, ms);
        t.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          done();
          reject(new Error('aborted'));
        });
      });
    const workers = [0, 1].map(() => {
      const w = new Worker({ port: 0, redis: o, heartbeatInterval: 100 });
      w.addTaskFunction('job', fn, { concurrency: 4 });
      return w;
    });
    for (const w of workers) cleanup.push(() => w.stop());
    await Promise.all(workers.map((w) => w.start()));
    const m = new Monitor({ redis: o, taskTimeout: 2000, checkTaskInterval: 50, endRetention: 600_000 });
    cleanup.push(() => m.stop());
    await m.start();

    const N = 120;
    const round = async (stopSome: boolean) => {
      attempts.clear();
      const ids = await Promise.all(Array.from({ length: N }, (_, i) => c.submit('job', { fail: i % 2 === 0 }, { id: `t${i}`, attempts: 3, backoff: 0 })));
      const stopped = new Set<string>();
      if (stopSome) {
        await Promise.all(
          ids.map(async (id, i) => {
            if (i % 3 !== 0) return;
            await sleep(Math.floor(Math.random() * 80));
            stopped.add(id);
            await c.control(id, 'stop').catch(() => {});
          }),
        );
      }
      const ends = await Promise.all(ids.map((id) => c.wait(id, { timeout: 20_000 })));
      return { ids, stopped, ends };
    };
    const first = await round(true);
    const wrong1 = first.ends.filter((e) => !first.stopped.has(e.id) && e.outcome !== 'succeeded').map((e) => `${e.id}:${e.outcome}`);
    expect(wrong1).toEqual([]);
    // every ended task cleaned up (out of `tasks`), its hash then deleted, as endRetention does
    await until(async () => (await Promise.all(first.ids.map((id) => redis.sismember(keys.taskSet, id)))).every((x) => x === 0), 'the ended tasks reaped', 15_000, 100);
    await redis.del(...first.ids.map((id) => keys.task(id)));
    // past the workers' command timeout (1 s here): what they kept of round 1's stops for a claim
    // on its way has expired (src/early-control.ts), so round 2 tests what Redis holds
    await sleep(1500);
    const second = await round(false);
    const wrong2 = second.ends.filter((e) => e.outcome !== 'succeeded').map((e) => `${e.id}:${e.outcome}`);
    expect(wrong2).toEqual([]);
    expect(overlap).toBe(0);
  }, 90_000);
});
