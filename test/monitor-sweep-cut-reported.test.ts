/**
 * A monitor's sweep is one requeue call per partition (and more while work is left), one after
 * another. When a later call fails (its partition's key damaged, a call judged late, Redis
 * refusing), what the calls before it requeued, parked or cleaned up is done in Redis all the
 * same: it must still be logged, counted and told on the `sweep` event. Before, the failure threw
 * the sweep's whole result away: a dead worker's tasks were requeued with no "requeued" line, no
 * `requeued` metric and no event, at every sweep that reached the damaged partition after them.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, type Monitor, type SweepResult } from '../src/index.js';
import { partitionKeys, partitionOf } from '../src/partitions.js';
import { resolveRedisConfig } from '../src/config.js';
import { spawnWorker } from './helpers/processes.js';
import { startSteadyWorker } from './helpers/running-task.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { proxyToRedis } from './helpers/tcp-proxy.js';
import { startWatchedMonitor } from './helpers/watched-monitor.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});
const N = 2;
const TASK_TIMEOUT = 1500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** the requeues `monitor` said: on the event, in its log (ids named), and its metric */
async function said(w: { monitor: Monitor; lines: string[]; sweeps: SweepResult[] }) {
  const metric = /^task_swarm_monitor_tasks_requeued_total(?:\{[^}]*\})? (\d+)$/m.exec(await w.monitor.metrics());
  return {
    event: w.sweeps.flatMap((s) => s.requeued).sort(),
    log: w.lines.filter((l) => l.startsWith('requeued')).join('\n'),
    metric: Number(metric?.[1] ?? 0),
  };
}

/** `n` ids in partition `p` */
function idsIn(p: number, n: number, tag: string): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) if (partitionOf(`${tag}-${i}`, N) === p) out.push(`${tag}-${i}`);
  return out;
}

describe('a sweep cut short by a failing partition', () => {
  it('what the partitions before it requeued is logged, counted and told', async () => {
    const r = { ...server.options(), keyPrefix: '{cut}:', partitions: N };
    const parts = partitionKeys(resolveRedisConfig(r));
    const client = new Client({ redis: r });
    cleanup.push(() => client.close());
    const dying = await spawnWorker({ port: 0, redis: r, heartbeatInterval: 200, concurrency: 4 });
    cleanup.push(() => dying.kill('SIGKILL'));
    const ids = idsIn(0, 3, 'stale');
    for (const id of ids) await client.submit('sleep', { ms: 120_000 }, { id });
    for (const id of ids) await dying.waitFor(new RegExp(`^STARTED ${id} 1$`));
    // heartbeats all along (of another function: it takes none of the requeued tasks)
    await startSteadyWorker(r, cleanup, ['other']);
    // partition 1's sweep now raises (WRONGTYPE at the monitor's own mark, requeue.lua KEYS[15])
    await redis.set(parts[1]!.monitorsSeen, 'not a zset');
    dying.kill('SIGKILL');

    const watched = await startWatchedMonitor({ redis: r, taskTimeout: TASK_TIMEOUT, checkTaskInterval: 200 }, cleanup);
    const deadline = Date.now() + 6 * TASK_TIMEOUT;
    while (Date.now() < deadline && watched.sweeps.flatMap((s) => s.requeued).length < ids.length) await sleep(100);

    // done in Redis...
    for (const id of ids) expect((await client.get(id))?.state).toBe('QUEUED');
    // ...and said: once each, on the event, in the log and in the metric
    const told = await said(watched);
    expect(told.event).toEqual([...ids].sort());
    for (const id of ids) expect(told.log).toContain(id);
    expect(told.metric).toBe(ids.length);
    // the damaged partition's refusal is said too, and the monitor did not take it for Redis lost
    expect(watched.lines.some((l) => /partition 1 was refused by Redis \(WRONGTYPE/.test(l))).toBe(true);
    expect(watched.lines.filter((l) => /Redis unreachable/.test(l))).toEqual([]);
  }, 30_000);

  it('what a call answered too late requeued is said, though the late answer reads as a loss', async () => {
    const o = server.options();
    const p = await proxyToRedis(server, cleanup);
    const client = new Client({ redis: o });
    cleanup.push(() => client.close());
    const dying = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 200, concurrency: 4 });
    cleanup.push(() => dying.kill('SIGKILL'));
    const ids = ['late-1', 'late-2'];
    for (const id of ids) await client.submit('sleep', { ms: 120_000 }, { id });
    for (const id of ids) await dying.waitFor(new RegExp(`^STARTED ${id} 1$`));
    await startSteadyWorker(o, cleanup, ['other']);
    const watched = await startWatchedMonitor({ redis: { ...o, port: p.port }, taskTimeout: 2000, checkTaskInterval: 200 }, cleanup);
    await sleep(500);

    // Killed: its leases go stale 1.8-2 s on. The link goes silent at 1.5 s: the next sweep,
    // written within 200 ms, is judged 500 ms (taskTimeout/4) after it was sent, when the leases
    // are stale; Redis runs it at the heal, late, and it requeues them there.
    dying.kill('SIGKILL');
    await sleep(1500);
    expect(watched.sweeps.flatMap((s) => s.requeued)).toEqual([]);
    p.partition();
    await sleep(2000);
    p.heal();
    const deadline = Date.now() + 8000;
    while (Date.now() < deadline && (await Promise.all(ids.map((id) => client.get(id)))).some((t) => t?.state !== 'QUEUED')) await sleep(100);
    for (const id of ids) expect((await client.get(id))?.state).toBe('QUEUED');
    // the late call read as a loss...
    await sleep(500);
    expect(watched.lines.some((l) => /after it was sent \(more than taskTimeout\/4\)/.test(l))).toBe(true);
    // ...and what it did is said all the same
    const told = await said(watched);
    expect(told.event).toEqual([...ids].sort());
    for (const id of ids) expect(told.log).toContain(id);
    expect(told.metric).toBe(ids.length);
  }, 30_000);

  it('what a call answered too late ended as cancelled is said, though the late answer reads as a loss', async () => {
    const o = server.options();
    const p = await proxyToRedis(server, cleanup);
    const client = new Client({ redis: o });
    cleanup.push(() => client.close());
    const dying = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 200, concurrency: 4 });
    cleanup.push(() => dying.kill('SIGKILL'));
    const id = 'late-cancelled';
    await client.submit('sleep', { ms: 120_000 }, { id });
    await dying.waitFor(new RegExp(`^STARTED ${id} 1$`));
    await startSteadyWorker(o, cleanup, ['other']);
    const watched = await startWatchedMonitor({ redis: { ...o, port: p.port }, taskTimeout: 2000, checkTaskInterval: 200 }, cleanup);
    await sleep(500);

    // its worker dead, it is cancelled: the stop reaches no one, and the sweep that finds its
    // lease stale ends it as cancelled; that sweep is written as the link goes silent, as above
    dying.kill('SIGKILL');
    await client.cancel(id);
    await sleep(1500);
    p.partition();
    await sleep(2000);
    p.heal();
    const ended = await client.wait(id, { timeout: 8000 });
    expect(ended.outcome).toBe('cancelled');
    await sleep(500);
    expect(watched.lines.some((l) => /after it was sent \(more than taskTimeout\/4\)/.test(l))).toBe(true);
    expect(watched.lines.filter((l) => /cancelled while they ran/.test(l)).join('\n')).toContain(id);
  }, 30_000);

  it('a lone partition refused: the monitor stays active, says so, and fires schedules', async () => {
    const o = server.options();
    const client = new Client({ redis: o });
    cleanup.push(() => client.close());
    const [keys] = partitionKeys(resolveRedisConfig(o));
    await client.schedule('often', { every: 300 }, 'fo', null);
    await redis.set(keys!.monitorsSeen, 'not a zset');
    const watched = await startWatchedMonitor({ redis: o, taskTimeout: 4000, checkTaskInterval: 200 }, cleanup);
    await sleep(3000);
    expect(watched.firings.filter((f) => f.name === 'often' && f.outcome === 'fired').length).toBeGreaterThanOrEqual(4);
    expect(watched.lines.filter((l) => /^the sweep was refused by Redis \(WRONGTYPE/.test(l))).toHaveLength(1);
    expect(watched.lines.filter((l) => /Redis unreachable/.test(l))).toEqual([]);
    expect(JSON.stringify(watched.monitor.state)).toMatch(/^\{"active"/);
    // mended: sweeps answer again (the monitor marks itself seen)
    await redis.del(keys!.monitorsSeen);
    await sleep(1500);
    expect(await redis.zscore(keys!.monitorsSeen, watched.monitor.name)).not.toBeNull();
  }, 30_000);
});
