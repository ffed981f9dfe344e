/**
 * A monitor in grace after Redis restarted (machines/monitor.ts `grace`) loses its link again,
 * cut off together with a worker, for longer than taskTimeout; the grace ends (by Redis's clock)
 * while they are away. The monitor is back first, to the same server: the docs promise a worker
 * cut off with it a taskTimeout from its return to heartbeat (a hold per loss,
 * test/monitor-link-flapping.test.ts does it outside a grace). But a loss inside a grace makes
 * no hold of its own (the grace's first loss still waits for a sweep back: `holdsAfterLoss`),
 * and the grace's end drops every hold (`endGrace`): the first sweep after the return is judged
 * at its time, and requeues the live task of the worker cut off with the monitor, before it is
 * back: run again while its own worker still runs it.
 */
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { startRunningTask, startSteadyWorker } from './helpers/running-task.js';
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

describe('a monitor cut off with a worker during a grace, back after the grace ended', () => {
  it('the worker back 1.5 s after the monitor keeps its task', async () => {
    const o = server.options();
    const p = await proxyToRedis(server, cleanup);
    const pw = await proxyToRedis(server, cleanup);
    const { lines } = await startWatchedMonitor({ redis: { ...o, port: p.port }, taskTimeout: TASK_TIMEOUT, checkTaskInterval: 500 }, cleanup);
    // one worker reaches Redis all along: the swarm is not silent (Redis holds nothing itself).
    // (started now, of another function, so that it takes none of the test's: a process started
    // inside the grace, on a loaded machine, took most of it)
    await startSteadyWorker(o, cleanup, ['other']);

    // Redis restarted: the monitor in a grace
    await server.kill();
    await server.start();
    await until(() => lines.some((l) => l.startsWith('Redis answers again, another server')), 'the monitor in grace', 15_000, 20);
    const graceBegan = Date.now();

    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const { id, runner } = await startRunningTask(c, { ...o, port: pw.port }, cleanup);
    await sleep(200);
    expect(Date.now() - graceBegan, 'still inside the grace').toBeLessThan(TASK_TIMEOUT - 500);

    // the monitor and the worker cut off together, longer than taskTimeout: the grace ends meanwhile
    p.reset();
    pw.reset();
    await sleep(TASK_TIMEOUT + 1000);
    p.heal();
    await sleep(1500);
    pw.heal();
    await sleep(TASK_TIMEOUT + 1000);
    expect(lines.filter((l) => l.startsWith('requeued'))).toEqual([]);
    // (requeued, it would be QUEUED now, or RUNNING a second attempt)
    expect(await c.get(id)).toMatchObject({ state: 'RUNNING', attempt: 1, worker: runner });
  }, 40_000);
});
