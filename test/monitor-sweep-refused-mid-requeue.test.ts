/**
 * A partition damaged by hand at a key of a function's queue (its group's zset, a string: not a
 * key requeue.lua is given, but one it reaches putting a stale task back). Redis refuses the
 * call from inside the script, after the script has written part of the requeue: the task's
 * lease index entry removed, its hash said QUEUED, but never put in its queue. The docs say the
 * damaged partition's stale tasks wait until it is mended; here the task is stranded: once the
 * key is mended, no sweep finds it again (it is in no lease index), and no worker claims it (it
 * is in no queue).
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client } from '../src/index.js';
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

describe('a partition refused part-way through a requeue', () => {
  it('its stale task is not stranded: once the key is mended it is requeued and runs', async () => {
    const r = { ...server.options(), keyPrefix: '{mid}:', partitions: N };
    const parts = partitionKeys(resolveRedisConfig(r));
    const client = new Client({ redis: r });
    cleanup.push(() => client.close());
    const id = newTaskIdIn(1, N);
    await client.submit('sleep', { ms: 120_000 }, { id });
    // the zset its function's tasks of no group wait in (lib/names.lua groupKey)
    const groupKey = `${parts[1]!.newQueue}:f:5:sleep:g:0:`;
    const dying = await spawnWorker({ port: 0, redis: r, heartbeatInterval: 200 });
    cleanup.push(() => dying.kill('SIGKILL'));
    await dying.waitFor(new RegExp(`^STARTED ${id} 1$`));
    dying.kill('SIGKILL');
    await redis.set(groupKey!, 'not a zset');

    const watched = await startWatchedMonitor({ redis: r, taskTimeout: TASK_TIMEOUT, checkTaskInterval: 200 }, cleanup);
    await sleep(3 * TASK_TIMEOUT);
    expect(watched.lines.some((l) => /partition 1 was refused by Redis \(WRONGTYPE/.test(l))).toBe(true);

    // mended: the task is requeued (or was) and a worker runs it
    await redis.del(groupKey!);
    const again = await spawnWorker({ port: 0, redis: r, heartbeatInterval: 200 });
    cleanup.push(() => again.kill('SIGKILL'));
    await again.waitFor(new RegExp(`^STARTED ${id} `), 4 * TASK_TIMEOUT);
  }, 40_000);
});
