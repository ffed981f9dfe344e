/**
 * A monitor whose own link to Redis drops again and again (a flaky network, a proxy resetting
 * connections), more often than once per taskTimeout. It once began a grace of one taskTimeout
 * at every return, holding every requeue and firing: while the flapping lasted it never left
 * grace, so a dead worker's task stayed RUNNING and no schedule fired. Now a return to the same
 * server (its run id) holds only the tasks whose leases were live when the link went, for one
 * taskTimeout; what was stale then is requeued, and the schedules fire.
 */
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { spawnWorker } from './helpers/processes.js';
import { startRunningTask } from './helpers/running-task.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { proxyToRedis, type TcpProxy } from './helpers/tcp-proxy.js';
import { redisPerFile } from './helpers/suite.js';
import { startWatchedMonitor } from './helpers/watched-monitor.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

const TASK_TIMEOUT = 4000;

/** a monitor through `proxy`, its firings and the lines it logs */
async function monitorThrough(o: object, proxy: TcpProxy) {
  const { firings, lines } = await startWatchedMonitor({ redis: { ...o, port: proxy.port }, taskTimeout: TASK_TIMEOUT, checkTaskInterval: 500 }, cleanup);
  return { firings, lines, returns: () => lines.filter((l) => l.startsWith('Redis answers again')).length };
}

function proxy(): Promise<TcpProxy> {
  return proxyToRedis(server, cleanup);
}

function client(o: object): Client {
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return c;
}

async function worker(redis: object) {
  const w = await spawnWorker({ port: 0, redis, heartbeatInterval: 200, concurrency: 1 });
  cleanup.push(() => w.kill('SIGKILL'));
  return w;
}

describe('a monitor whose link to Redis drops again and again', () => {
  it('requeues a dead worker’s task and fires the schedules while the drops go on', async () => {
    const o = server.options();
    const p = await proxy();
    const c = client(o);
    const m = await monitorThrough(o, p);
    await c.schedule('often', { every: 300 }, 'f', null);
    await until(() => m.firings.length > 0, 'a first firing');

    const doomed = await worker(o);
    const lost = await c.submit('sleep', { ms: 120_000 });
    await doomed.waitFor(new RegExp(`^STARTED ${lost} 1$`));
    const live = await worker(o);
    const kept = await c.submit('sleep', { ms: 120_000 });
    await live.waitFor(new RegExp(`^STARTED ${kept} 1$`));

    // the monitor's connections cut every 700 ms, each cut healed 50 ms on: less than taskTimeout apart
    const flap = setInterval(() => {
      p.reset();
      setTimeout(() => p.heal(), 50);
    }, 700);
    cleanup.push(async () => clearInterval(flap));
    await until(() => m.returns() >= 2, 'the monitor to lose Redis and find it again twice', 10_000, 50);

    await doomed.kill('SIGKILL');
    const fired = m.firings.filter((f) => f.outcome === 'fired').length;
    // stale one taskTimeout after its last heartbeat, then at most one more (the hold of a loss
    // in between), and a sweep's spacing
    await until(async () => (await c.get(lost))?.state === 'QUEUED', 'the dead worker’s task requeued', 3 * TASK_TIMEOUT, 100);
    expect(m.returns(), 'the link kept dropping meanwhile').toBeGreaterThanOrEqual(5);
    expect(m.firings.filter((f) => f.outcome === 'fired').length - fired, 'ticks of every 300 ms fired meanwhile').toBeGreaterThanOrEqual(5);
    // the live worker's task, its heartbeats never cut, was not taken from it
    expect(await c.get(kept)).toMatchObject({ state: 'RUNNING', attempt: 1 });
    expect(m.lines.filter((l) => l.startsWith('Redis answers again, another server'))).toEqual([]);
  }, 40_000);

  it('after Redis restarted (a grace: it may have lost data), drops of the link do not begin the grace anew: it ends a taskTimeout on, and the schedules fire', async () => {
    const o = server.options();
    const p = await proxy();
    const c = client(o);
    const m = await monitorThrough(o, p);
    await server.kill();
    await server.start();
    await until(() => m.lines.some((l) => l.startsWith('Redis answers again, another server')), 'the monitor back in a grace', 15_000, 50);
    // (the restart lost everything: the schedule is set again, as an application does at start)
    await c.schedule('often', { every: 300 }, 'f', null);
    const flap = setInterval(() => {
      p.reset();
      setTimeout(() => p.heal(), 50);
    }, 700);
    cleanup.push(async () => clearInterval(flap));
    // the grace ends a taskTimeout after it began, blips or not; a firing follows within a sweep
    await until(() => m.firings.some((f) => f.outcome === 'fired'), 'a firing after the grace', 2 * TASK_TIMEOUT, 100);
    expect(m.returns(), 'the link kept dropping').toBeGreaterThanOrEqual(4);
    // (the restart's grace, once: each return to the same server after it went on with it)
    expect(m.lines.filter((l) => l.startsWith('Redis answers again, another server'))).toHaveLength(1);
  }, 40_000);

  it('a worker cut off with it, back later than it, its lease stale by then, is not requeued: it has a taskTimeout to heartbeat', async () => {
    const o = server.options();
    const p = await proxy();
    const pw = await proxy();
    const c = client(o);
    const m = await monitorThrough(o, p);
    const { id, runner } = await startRunningTask(c, { ...o, port: pw.port }, cleanup);
    // one worker reaches Redis all along: the swarm is not silent (Redis holds nothing itself)
    await worker(o);

    p.reset();
    pw.reset();
    // longer than taskTimeout: the task's lease is stale when they are back
    await new Promise((r) => setTimeout(r, TASK_TIMEOUT + 1000));
    p.heal();
    // the worker's link back 1.5 s after the monitor's (each reconnects within a second)
    await new Promise((r) => setTimeout(r, 1500));
    pw.heal();
    await until(() => m.returns() >= 1, 'the monitor to find Redis again', 10_000, 50);
    await new Promise((r) => setTimeout(r, TASK_TIMEOUT + 1000));
    expect(await c.get(id)).toMatchObject({ state: 'RUNNING', attempt: 1, worker: runner });
    expect(m.lines.filter((l) => l.startsWith('Redis answers again'))).toEqual([expect.stringContaining('the same server')]);
    expect(m.lines.filter((l) => l.startsWith('requeued'))).toEqual([]);
  }, 40_000);
});
