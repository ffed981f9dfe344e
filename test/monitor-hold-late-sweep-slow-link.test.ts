/**
 * A requeue call is judged no later than taskTimeout / 4 (1.5 s here) after it was sent, by Redis's clock
 * as the monitor last read it and its own since (src/monitor.ts `clocks`), and one Redis ran
 * later reads as a loss of Redis. But "as last read" is paired with the time its answer came
 * back, not the time it was sent: the answer's way back (and any wait of the monitor's event
 * loop before it reads it) counts against the next call as if that call had waited in the link;
 * and the call waits, auto-pipelined, behind the keep-alive PING in flight. On a link slow each
 * way (here 800 ms from the start, Redis itself answering at once; pingTimeout set to suit it)
 * every requeue call reads as late: every sweep fails, the monitor probes, comes back (the same server) and
 * sweeps again, to fail again. It never fires a schedule (a firing follows a sweep that
 * succeeded), and its hold, from its last good sweep, never ends (a hold ends a taskTimeout after
 * a sweep back that succeeded): a worker that dies meanwhile never has its task requeued. With
 * no fence (its share of taskTimeout out of reach) the same monitor, slow, requeues it and fires.
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
const TASK_TIMEOUT = 6000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a monitor on a slow link (over 1 s a round trip, Redis itself prompt)', () => {
  it('fires the schedules and requeues a dead worker’s task', async () => {
    const o = server.options();
    const p = await proxyToRedis(server, cleanup);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    // (pingTimeout long enough for the link: its PINGs are answered)
    // the link slow from the start
    p.delay(800);
    const { lines, firings } = await startWatchedMonitor({ redis: { ...o, port: p.port }, taskTimeout: TASK_TIMEOUT, checkTaskInterval: 500, pingTimeout: 3000 }, cleanup);
    const { worker: w, id } = await startRunningTask(c, o, cleanup);
    // one worker reaches Redis all along: the swarm is not silent (Redis holds nothing itself)
    await startSteadyWorker(o, cleanup, ['f']);

    await c.schedule('often', { every: 500 }, 'f', null);
    await until(() => firings.length > 0, 'a first firing', 30_000);
    await sleep(1000);
    await w.kill('SIGKILL');
    const before = firings.length;
    await until(async () => (await c.get(id))?.state !== 'RUNNING', 'the dead worker’s task requeued', 6 * TASK_TIMEOUT, 100).catch(() => undefined);
    expect({
      state: (await c.get(id))?.state === 'RUNNING' ? 'RUNNING' : 'requeued',
      fired: firings.length > before,
      late: lines.filter((l) => l.includes('the link was silent')).slice(0, 2),
    }).toEqual({ state: 'requeued', fired: true, late: [] });
  }, 90_000);
});
