/**
 * A monitor whose own process is busy (its event loop held 1.2 s at a time, every 2 s:
 * an application's synchronous work in the same process) is no loss of Redis: the late-sweep
 * fence (src/monitor.ts `clocks`, taskTimeout / LATE_SWEEP_SHARE) counts only the time a requeue call waits in
 * the link or in Redis, so the monitor fires and requeues a dead worker's task all along.
 */
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { startRunningTask, startSteadyWorker } from './helpers/running-task.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { startWatchedMonitor } from './helpers/watched-monitor.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});
const TASK_TIMEOUT = 6000;

describe('a monitor in a busy process', () => {
  it('reads no loss of Redis from its own event loop’s stalls', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const { lines, firings } = await startWatchedMonitor({ redis: o, taskTimeout: TASK_TIMEOUT, checkTaskInterval: 300, pingTimeout: 3000 }, cleanup);
    const { worker: w, id } = await startRunningTask(c, o, cleanup);
    await startSteadyWorker(o, cleanup, ['f']);
    await c.schedule('often', { every: 500 }, 'f', null);
    await until(() => firings.length > 0, 'a first firing');

    // the event loop held 1.2 s at a time, every 2 s
    const busy = setInterval(() => {
      const end = performance.now() + 1200;
      while (performance.now() < end);
    }, 2000);
    cleanup.push(async () => clearInterval(busy));
    await w.kill('SIGKILL');
    const before = firings.length;
    await new Promise((r) => setTimeout(r, 4 * TASK_TIMEOUT));
    clearInterval(busy);
    expect({
      requeued: (await c.get(id))?.state !== 'RUNNING',
      fired: firings.length > before,
      late: lines.filter((l) => l.includes('the link was silent')),
    }).toEqual({ requeued: true, fired: true, late: [] });
  }, 60_000);
});
