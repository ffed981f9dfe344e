/**
 * A worker's per-function cap (`addTaskFunction(name, fn, { concurrency })`) in a partitioned
 * swarm: a claim across partitions asks each partition in turn for what the ones before left,
 * so each partition's request must count what the earlier ones just took, or a function capped
 * at 1 runs once per partition (up to N at once) on one worker.
 */
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { partitionOf } from '../src/partitions.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

const N = 4;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `n` ids in each partition */
function idsInEach(n: number, tag: string): string[] {
  const out: string[] = [];
  for (let p = 0; p < N; p++) {
    let k = 0;
    for (let i = 0; k < n; i++) {
      const id = `${tag}-${i}`;
      if (partitionOf(id, N) === p) {
        out.push(id);
        k++;
      }
    }
  }
  return out;
}

describe('per-function caps across partitions', () => {
  it('a function capped at 1 runs one task at a time on the worker, its tasks spread over every partition', async () => {
    const redis = { port: server.port, keyPrefix: '{caps}:', partitions: N };
    const client = new Client({ redis });
    cleanup.push(() => client.close());
    const ids = idsInEach(2, 'capped');
    // queued before the worker starts: its first claim sees work in every partition
    await client.submitMany(ids.map((id) => ({ fn: 'capped', data: 150, options: { id } })));
    await client.submitMany(idsInEach(2, 'free').map((id) => ({ fn: 'free', data: 150, options: { id } })));
    let now = 0;
    let most = 0;
    let freeMost = 0;
    let freeNow = 0;
    const worker = new Worker({ port: 0, redis, concurrency: 8, fetchTaskInterval: 30_000, logger: quiet });
    worker.addTaskFunction(
      'capped',
      async (task) => {
        most = Math.max(most, ++now);
        await sleep(task.data as number);
        now--;
      },
      { concurrency: 1 },
    );
    worker.addTaskFunction('free', async (task) => {
      freeMost = Math.max(freeMost, ++freeNow);
      await sleep(task.data as number);
      freeNow--;
    });
    cleanup.push(() => worker.stop());
    await worker.start();
    for (const id of ids) await client.wait(id, { timeout: 20_000 });
    expect(most).toBe(1);
    // the other slots still went to the uncapped function, several at once
    await until(async () => (await client.stats()).functions.free?.queued === 0 && freeNow === 0, 'the free tasks done', 20_000);
    expect(freeMost).toBeGreaterThan(1);
  }, 60_000);
});
