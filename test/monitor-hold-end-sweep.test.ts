/**
 * A hold's end (one taskTimeout after the monitor's first sweep back, machines/monitor.ts
 * `holds`) is when what it kept back is requeued: sweepDelay wakes the monitor for it ("What a
 * hold kept back is requeued when it ends"). That sweep is handed the hold's `from` as heldFrom,
 * the hold being dropped only once the sweep has answered (recordSweep): it requeues nothing, and
 * the held task, stale by then, is no lease deadline to wake for (requeue.lua reports the first
 * lease live now). The dead worker's task waits for the sweep after, up to sweepCap later
 * (taskTimeout / 4).
 */
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { startRunningTask } from './helpers/running-task.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { proxyToRedis } from './helpers/tcp-proxy.js';
import { redisPerFile } from './helpers/suite.js';
import { startWatchedMonitor } from './helpers/watched-monitor.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});
const TASK_TIMEOUT = 4000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a hold ends', () => {
  it('and the sweep it wakes the monitor for requeues what it kept back', async () => {
    const o = server.options();
    const p = await proxyToRedis(server, cleanup);
    const pw = await proxyToRedis(server, cleanup);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    // (checkTaskInterval long: the monitor sleeps taskTimeout / 4 unless a deadline wakes it)
    const { monitor: m, sweeps } = await startWatchedMonitor({ redis: { ...o, port: p.port }, taskTimeout: TASK_TIMEOUT, checkTaskInterval: 60_000 }, cleanup);
    const { worker: w, id } = await startRunningTask(c, { ...o, port: pw.port }, cleanup);
    await sleep(300);

    // the monitor and the worker cut off together; the worker dies meanwhile, the monitor is back 0.5 s on
    p.reset();
    pw.reset();
    await w.kill('SIGKILL');
    await sleep(500);
    p.heal();
    const holds = () => (m as unknown as { actor: { getSnapshot(): { context: { holds: { from: number; until?: number }[] } } } }).actor.getSnapshot().context.holds;
    const hold = await until(() => (holds()[0]?.until !== undefined ? holds()[0] : undefined), 'the hold’s end set by the first sweep back', 10_000, 10);
    const requeuedAt = await until(() => sweeps.find((s) => s.requeued.includes(id))?.now, 'the task requeued', 3 * TASK_TIMEOUT, 20);
    expect(requeuedAt - hold.until!, 'ms from the hold’s end to the requeue').toBeLessThan(200);
  }, 40_000);
});
