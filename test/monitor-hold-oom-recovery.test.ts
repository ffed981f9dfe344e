/**
 * A monitor whose sweeps Redis refuses (OOM at maxmemory) waits 1 s between tries
 * (REFUSED_RETRY_MS); once Redis has room again it requeues a worker's task that died meanwhile
 * and fires the schedules, and a STOP meanwhile ends it at once.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client } from '../src/index.js';
import { startRunningTask, startSteadyWorker } from './helpers/running-task.js';
import { until } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { startWatchedMonitor } from './helpers/watched-monitor.js';

let redis: Redis;
let o: () => Record<string, unknown>;
const cleanup = redisPerFile((s, r) => {
  redis = r;
  o = () => s.options();
});
const TASK_TIMEOUT = 2000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function atMaxmemory(): Promise<void> {
  await redis.config('SET', 'maxmemory-policy', 'noeviction');
  const used = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
  await redis.config('SET', 'maxmemory', String(Math.max(1024 * 1024, used - 256 * 1024)));
  await expect(redis.set('oom:probe', 'x')).rejects.toThrow(/OOM/);
}

describe('a monitor whose sweeps Redis refuses for a while (OOM)', () => {
  it('requeues and fires once Redis has room again', async () => {
    cleanup.push(async () => void (await redis.config('SET', 'maxmemory', '0')));
    // (one swarm: each options() names a new key prefix)
    const opts = o();
    const c = new Client({ redis: opts });
    cleanup.push(() => c.close());
    const { monitor: m, lines, firings } = await startWatchedMonitor({ redis: opts, taskTimeout: TASK_TIMEOUT, checkTaskInterval: 250 }, cleanup);
    const { worker: w, id } = await startRunningTask(c, opts, cleanup);
    await startSteadyWorker(opts, cleanup, ['f']);
    await c.schedule('often', { every: 300 }, 'f', null);
    await until(() => firings.length > 0, 'a first firing');

    await atMaxmemory();
    await until(() => lines.some((l) => /OOM/.test(l)), 'a refused sweep', 5000);
    await w.kill('SIGKILL');
    await sleep(3 * TASK_TIMEOUT);
    const during = firings.length;
    await redis.config('SET', 'maxmemory', '0');
    const back = Date.now();
    const [requeuedIn, firedIn] = await Promise.all([
      until(async () => (await c.get(id))?.state !== 'RUNNING', 'the dead worker’s task requeued', 4 * TASK_TIMEOUT, 50).then(() => Date.now() - back),
      until(() => firings.length > during, 'a firing after', 4 * TASK_TIMEOUT, 20).then(() => Date.now() - back),
    ]);
    expect({ requeuedWithin: requeuedIn < TASK_TIMEOUT + 1500, firedWithin: firedIn < 1500 }, `${requeuedIn} ${firedIn}`).toEqual({ requeuedWithin: true, firedWithin: true });
    await atMaxmemory();
    // (its lines said once: the refusal said a moment ago is the same trouble; its state says it)
    await until(() => !JSON.stringify(m.state).includes('active'), 'refused again', 5000, 10);
    const t = Date.now();
    await m.stop();
    expect(Date.now() - t).toBeLessThan(1500);
  }, 60_000);
});
