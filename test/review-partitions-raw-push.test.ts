/**
 * A raw entry (`redis-cli LPUSH`, the seed's ingress) in a partitioned swarm: a task lives in
 * its id's partition, where clients look for it. One pushed onto the queue of its id's partition
 * is a task as any; one pushed onto another partition's queue still runs, but no client finds it
 * by id: the worker says so, naming the partition its id belongs to, rather than leave it silent.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Worker } from '../src/index.js';
import { partitionKeys, partitionOf } from '../src/partitions.js';
import { resolveRedisConfig } from '../src/config.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const N = 3;

function idIn(p: number, tag: string): string {
  for (let i = 0; ; i++) if (partitionOf(`${tag}-${i}`, N) === p) return `${tag}-${i}`;
}

describe('raw entries pushed onto a partition’s queue', () => {
  it("in its id's partition: found by id; in another: run, and the worker names the partition it belongs to", async () => {
    const r = { port: server.port, keyPrefix: '{raw}:', partitions: N };
    const parts = partitionKeys(resolveRedisConfig(r));
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (m: unknown) => void warnings.push(String(m)) };
    const ran: string[] = [];
    const worker = new Worker({ port: 0, redis: r, fetchTaskInterval: 200, logger });
    worker.addTaskFunction('echo', (t) => void ran.push(t.id));
    cleanup.push(() => worker.stop());
    await worker.start();
    const client = new Client({ redis: r });
    cleanup.push(() => client.close());
    const right = idIn(1, 'right');
    const wrong = idIn(2, 'wrong');
    await redis.lpush(parts[1]!.newQueue, JSON.stringify({ id: right, function: 'echo', data: 1 }));
    await redis.lpush(parts[0]!.newQueue, JSON.stringify({ id: wrong, function: 'echo', data: 2 }));
    expect(await client.wait(right, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded' });
    await until(() => ran.includes(wrong), 'the misplaced entry ran', 5000);
    expect(await client.get(wrong)).toBeNull();
    expect(warnings.filter((w) => w.includes(wrong))).toEqual([expect.stringMatching(/queued in partition 0, but its id belongs to partition 2/)]);
    expect(warnings.filter((w) => w.includes(right))).toEqual([]);
  }, 30_000);
});
