/**
 * A partition damaged by hand at a key of a function's queue (its group's zset, a string: not a
 * key requeue.lua is given, but one it reaches putting a stale task back). Redis refuses that
 * write from inside the script. The docs say the damaged partition's stale tasks wait until it
 * is mended: the put-back writes the task's place first (lib/put-back.lua), so the refusal
 * leaves the task RUNNING in the lease index, and once the key is mended a sweep requeues it and
 * a worker runs it. Before, the refusal came after the task's lease index entry was removed and
 * its hash said QUEUED: stranded, in no lease index and no queue.
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
    expect(watched.lines.some((l) => /could not requeue 1 stale task\(s\).*WRONGTYPE|partition 1 was refused by Redis \(WRONGTYPE/.test(l))).toBe(true);

    // mended: the task is requeued (or was) and a worker runs it
    await redis.del(groupKey!);
    const again = await spawnWorker({ port: 0, redis: r, heartbeatInterval: 200 });
    cleanup.push(() => again.kill('SIGKILL'));
    await again.waitFor(new RegExp(`^STARTED ${id} `), 4 * TASK_TIMEOUT);
  }, 40_000);
});
