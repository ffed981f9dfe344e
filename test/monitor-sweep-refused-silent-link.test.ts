/**
 * A monitor and a worker cut off together by a silent link (test/monitor-hold-silent-partition
 * .test.ts), with one partition of two damaged by hand (WRONGTYPE at its monitor mark, as
 * test/monitor-sweep-cut-reported.test.ts). The sweep written as the link went silent starts
 * with the damaged partition: its call waits in the link and, at the heal, Redis refuses it from
 * inside the script. That call ran late (it waited the whole silence): it must read as a loss of
 * Redis, as a late call of a sound partition does, so that what was live when the link went
 * silent is held. Taken for the partition's own trouble, the loss went unnoticed: the sound
 * partition's call, sent just after the heal and so not late, requeued the task of the worker
 * cut off with the monitor, live, before that worker was back.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client } from '../src/index.js';
import { partitionKeys, newTaskIdIn } from '../src/partitions.js';
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
const TASK_TIMEOUT = 2000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a refused partition first in a sweep written into a silent link', () => {
  it('the late refusal reads as a loss: the live task of a worker cut off with the monitor is held', async () => {
    const o = { ...server.options(), keyPrefix: '{refsil}:', partitions: N };
    const parts = partitionKeys(resolveRedisConfig(o));
    const p = await proxyToRedis(server, cleanup);
    const pw = await proxyToRedis(server, cleanup);
    const client = new Client({ redis: o });
    cleanup.push(() => client.close());
    // partition 1 damaged: its sweep raises from inside requeue.lua
    await redis.set(parts[1]!.monitorsSeen, 'not a zset');
    const watched = await startWatchedMonitor({ redis: { ...o, port: p.port }, taskTimeout: TASK_TIMEOUT, checkTaskInterval: 200 }, cleanup);
    // a task of partition 0 running on a worker behind its own link
    const runnerProc = await spawnWorker({ port: 0, redis: { ...o, port: pw.port }, heartbeatInterval: 200 });
    cleanup.push(() => runnerProc.kill('SIGKILL'));
    const id = newTaskIdIn(0, N);
    await client.submit('sleep', { ms: 120_000 }, { id });
    await runnerProc.waitFor(new RegExp(`^STARTED ${id} 1$`));
    const runner = (await client.get(id))!.worker!;
    // the swarm is not silent (Redis holds nothing itself): a worker of another function beside
    const steady = await startSteadyWorker(o, cleanup, ['other']);
    await sleep(1000);

    // The link goes silent while the monitor sleeps, its next sweep to start with partition 1.
    await new Promise<void>((resolve) => {
      const m = watched.monitor as unknown as { nextPartition: number; on(e: string, f: (s: unknown) => void): void; off(e: string, f: (s: unknown) => void): void };
      const onState = (s: unknown) => {
        if (JSON.stringify(s) === '{"active":"idle"}' && m.nextPartition % N === 1) {
          p.partition();
          pw.partition();
          m.off('state', onState);
          resolve();
        }
      };
      m.on('state', onState);
    });
    // longer than taskTimeout (the lease is stale by the heal), shorter than the monitor's 5 s
    // command timeout (no timeout says the link was lost)
    await sleep(3500);
    p.heal();
    await sleep(500);
    pw.heal();
    await sleep(TASK_TIMEOUT + 1000);

    expect(watched.lines.filter((l) => l.startsWith('requeued'))).toEqual([]);
    expect(await client.get(id)).toMatchObject({ state: 'RUNNING', attempt: 1, worker: runner });
    expect(steady.lines.filter((l) => l.startsWith(`STARTED ${id} `))).toEqual([]);
  }, 40_000);
});
