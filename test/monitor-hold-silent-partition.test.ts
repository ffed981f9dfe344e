/**
 * A monitor and a worker cut off together by a silent partition (packets dropped, the sockets
 * open: no close, as test/helpers/tcp-proxy.ts `partition()`), longer than taskTimeout; the
 * worker's link back 1.5 s after the monitor's. The docs promise such a worker a taskTimeout from
 * the monitor's return: its task's lease was live when the monitor lost Redis, so it is held
 * (machines/monitor.ts `holds`; test/monitor-link-flapping.test.ts does it with a reset, which
 * closes the sockets). But the sweep the monitor wrote as the partition began is not lost with
 * the link: it waits in the socket (here the monitor even stays in `active.sweeping` the whole
 * 7 s, its 5 s command timeout notwithstanding), and Redis runs it when the partition heals,
 * judged at that time, with no hold. The live task is requeued at the heal and run by another
 * worker while its own worker still runs it. (The same before the holds: no grace stopped it.)
 */
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { startRunningTask, startSteadyWorker } from './helpers/running-task.js';
import { type RedisServer } from './helpers/redis-server.js';
import { proxyToRedis } from './helpers/tcp-proxy.js';
import { redisPerFile } from './helpers/suite.js';
import { startWatchedMonitor } from './helpers/watched-monitor.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});
const TASK_TIMEOUT = 4000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a monitor and a worker cut off together, silently', () => {
  it('the worker back 1.5 s after the monitor keeps its task', async () => {
    const o = server.options();
    const p = await proxyToRedis(server, cleanup);
    const pw = await proxyToRedis(server, cleanup);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const { lines } = await startWatchedMonitor({ redis: { ...o, port: p.port }, taskTimeout: TASK_TIMEOUT, checkTaskInterval: 500 }, cleanup);
    const { id, runner } = await startRunningTask(c, { ...o, port: pw.port }, cleanup);
    // one worker reaches Redis all along: the swarm is not silent (Redis holds nothing itself)
    const steady = await startSteadyWorker(o, cleanup);
    await sleep(500);

    p.partition();
    pw.partition();
    // longer than taskTimeout, and than the monitor's command timeout (5 s)
    await sleep(7000);
    p.heal();
    await sleep(1500);
    pw.heal();
    await sleep(TASK_TIMEOUT + 1000);
    expect(lines.filter((l) => l.startsWith('requeued'))).toEqual([]);
    expect(await c.get(id)).toMatchObject({ state: 'RUNNING', attempt: 1, worker: runner });
    expect(steady.lines.filter((l) => l.startsWith(`STARTED ${id} `))).toEqual([]);
  }, 40_000);
});
