/**
 * A partition damaged by hand at a key requeue.lua reaches only after its requeues (the worker
 * list, `workers`, a string: its SRANDMEMBER raises WRONGTYPE). Redis refuses the call from
 * inside the script, after the script has written what it requeued: those tasks are QUEUED in
 * Redis, their `requeued` events published to their channels. The docs say a refused
 * partition's stale tasks wait until it is mended, and that what a sweep did is said, whatever
 * stops it; here the refusal threw the call's requeues away: done in Redis at every retry, they
 * were never logged, counted nor told on the `sweep` event.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, type Monitor, type SweepResult } from '../src/index.js';
import { partitionKeys, newTaskIdIn } from '../src/partitions.js';
import { resolveRedisConfig } from '../src/config.js';
import { spawnWorker } from './helpers/processes.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
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

async function said(w: { monitor: Monitor; lines: string[]; sweeps: SweepResult[] }) {
  const metric = /^task_swarm_monitor_tasks_requeued_total(?:\{[^}]*\})? (\d+)$/m.exec(await w.monitor.metrics());
  return {
    event: w.sweeps.flatMap((s) => s.requeued).sort(),
    log: w.lines.filter((l) => l.startsWith('requeued')).join('\n'),
    metric: Number(metric?.[1] ?? 0),
  };
}

describe('a partition refused after its requeues were written', () => {
  it('its tasks are left RUNNING, or what was requeued is said', async () => {
    const r = { ...server.options(), keyPrefix: '{after}:', partitions: N };
    const parts = partitionKeys(resolveRedisConfig(r));
    const client = new Client({ redis: r });
    cleanup.push(() => client.close());
    const dying = await spawnWorker({ port: 0, redis: r, heartbeatInterval: 200, concurrency: 4 });
    cleanup.push(() => dying.kill('SIGKILL'));
    const ids = [newTaskIdIn(1, N), newTaskIdIn(1, N)];
    for (const id of ids) await client.submit('sleep', { ms: 120_000 }, { id });
    for (const id of ids) await dying.waitFor(new RegExp(`^STARTED ${id} 1$`));
    dying.kill('SIGKILL');
    // partition 1's worker list, written by hand as a string (requeue.lua KEYS[12])
    await redis.del(parts[1]!.workerSet);
    await redis.set(parts[1]!.workerSet, 'not a set');

    const watched = await startWatchedMonitor({ redis: r, taskTimeout: TASK_TIMEOUT, checkTaskInterval: 200 }, cleanup);
    await sleep(4 * TASK_TIMEOUT);

    expect(watched.lines.some((l) => /partition 1 was refused by Redis \(WRONGTYPE/.test(l))).toBe(true);
    const queued: string[] = [];
    for (const id of ids) if ((await client.get(id))?.state === 'QUEUED') queued.push(id);
    const told = await said(watched);
    // what Redis holds as requeued is what the monitor said it requeued
    expect(told.event).toEqual(queued.sort());
    for (const id of queued) expect(told.log).toContain(id);
    expect(told.metric).toBe(queued.length);
  }, 30_000);
});
