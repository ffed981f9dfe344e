/**
 * Redis restarted without persistence under a partitioned swarm (four partitions on one Redis):
 * every partition lost its data at once. Each partition has its own epoch, so the worker sees
 * the loss in each and re-asserts the tasks it runs there from memory; they end once, none run
 * twice; tasks submitted after the restart run in every partition; and the swarm's partition
 * count, lost with the data, is written again by the running components, so a component of
 * another count that starts next is still refused.
 */
import { describe, expect, it } from 'vitest';
import { Client, Monitor, Worker } from '../src/index.js';
import { partitionOf } from '../src/partitions.js';
import { buildKeys } from '../src/keys.js';
import { resolveRedisConfig } from '../src/config.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import type { Redis } from 'ioredis';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const N = 4;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function idsInEach(n: number, tag: string): string[] {
  const out: string[] = [];
  for (let p = 0; p < N; p++) {
    let k = 0;
    for (let i = 0; k < n; i++) {
      if (partitionOf(`${tag}-${i}`, N) === p) {
        out.push(`${tag}-${i}`);
        k++;
      }
    }
  }
  return out;
}

describe('Redis restarted empty under four partitions', () => {
  it('the running tasks of every partition are re-asserted and end once; new tasks run in each; the count is written again', async () => {
    const r = { port: server.port, keyPrefix: '{restart}:', partitions: N };
    const starts = new Map<string, number>();
    const worker = new Worker({ port: 0, redis: r, concurrency: 16, heartbeatInterval: 200, fetchTaskInterval: 300, logger: quiet });
    worker.addTaskFunction('work', async (t) => {
      starts.set(t.id, (starts.get(t.id) ?? 0) + 1);
      await sleep(t.data as number);
      return t.id;
    });
    cleanup.push(() => worker.stop());
    await worker.start();
    const monitor = new Monitor({ redis: r, taskTimeout: 1500, checkTaskInterval: 200, logger: quiet });
    cleanup.push(() => monitor.stop());
    await monitor.start();
    const client = new Client({ redis: r });
    cleanup.push(() => client.close());
    const running = idsInEach(2, 'run');
    for (const id of running) await client.submit('work', 3000, { id });
    await until(() => running.every((id) => starts.has(id)), 'every task started', 10_000);
    await server.restart();
    const after = idsInEach(2, 'after');
    for (const id of after) await client.submit('work', 50, { id });
    for (const id of [...running, ...after]) expect([id, await client.wait(id, { timeout: 15_000 })]).toMatchObject([id, { state: 'END', outcome: 'succeeded' }]);
    expect([...starts].filter(([, n]) => n > 1)).toEqual([]);
    // the count again in Redis: a client of another count is refused, reading or writing
    const key = buildKeys(resolveRedisConfig(r)).layout;
    await until(async () => (await redis.get(key)) === String(N), 'the partition count written again', 5000);
    const other = new Client({ redis: { ...r, partitions: 2 } });
    cleanup.push(() => other.close());
    await expect(other.submit('work', 1)).rejects.toThrow(/laid out in 4 partition/);
  }, 60_000);
});
