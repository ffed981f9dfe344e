/**
 * A rate limit in a partitioned swarm: set in every partition, each enforces it on its own
 * tasks (docs/deployments.md: a function spread over N partitions may start N times its rate).
 * What must still hold: a worker held back by the rate in any partition claims when that
 * partition's window opens (the soonest `wakeAt` over the partitions), not at its poll, and the
 * work of a partition whose tasks are all held back does not keep the others' waiting.
 */
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { partitionOf } from '../src/partitions.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

const N = 4;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

function idsIn(p: number, n: number, tag: string): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) if (partitionOf(`${tag}-${i}`, N) === p) out.push(`${tag}-${i}`);
  return out;
}

describe('a rate limit over partitions', () => {
  it('the worker claims as each partition’s window opens, though it polls every 30 s; other work is not held', async () => {
    const r = { port: server.port, keyPrefix: '{rated}:', partitions: N };
    const client = new Client({ redis: r });
    cleanup.push(() => client.close());
    await client.setLimit({ function: 'limited' }, { rate: { max: 1, per: 700 } });
    const starts = new Map<string, number>();
    const worker = new Worker({ port: 0, redis: r, concurrency: 8, fetchTaskInterval: 30_000, logger: quiet });
    worker.addTaskFunction('limited', (t) => void starts.set(t.id, Date.now()));
    worker.addTaskFunction('free', (t) => void starts.set(t.id, Date.now()));
    cleanup.push(() => worker.stop());
    await worker.start();
    // three limited tasks in partition 1, three in partition 3; free tasks in every partition
    const limited = [...idsIn(1, 3, 'l'), ...idsIn(3, 3, 'l')];
    const t0 = Date.now();
    await client.submitMany(limited.map((id) => ({ fn: 'limited', data: 0, options: { id } })));
    const free = [0, 1, 2, 3].flatMap((p) => idsIn(p, 2, 'f'));
    await client.submitMany(free.map((id) => ({ fn: 'free', data: 0, options: { id } })));
    for (const id of [...limited, ...free]) await client.wait(id, { timeout: 10_000 });
    // the free work ran at once
    expect(Math.max(...free.map((id) => starts.get(id)! - t0))).toBeLessThan(1000);
    // per partition, one start per 700 ms window, each soon after its window opened
    for (const p of [1, 3]) {
      const at = limited.filter((id) => partitionOf(id, N) === p).map((id) => starts.get(id)!).sort((a, b) => a - b);
      for (let i = 1; i < at.length; i++) {
        expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(650);
        expect(at[i]! - at[i - 1]!).toBeLessThan(1500);
      }
    }
  }, 30_000);
});
