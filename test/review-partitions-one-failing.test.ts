/**
 * What a worker does across partitions is one script per partition, one after another: one
 * partition whose scripts fail (its primary down on a Cluster; here, deterministically, a key of
 * another type under that partition's queue name) must not make the worker drop what the others
 * did or would do:
 *
 * - a claim: the tasks the partitions before the failing one took are RUNNING in Redis under
 *   this worker's lease, their replies arrived (nothing for recoverClaims to hand back), and
 *   only the monitor's timeout would ever take them back, counting an attempt no one made;
 * - the hand-back at stop: the partitions after the failing one must still get their tasks back
 *   at once, not after the monitor's timeout.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Worker } from '../src/index.js';
import { partitionKeys, partitionOf } from '../src/partitions.js';
import { resolveRedisConfig } from '../src/config.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const N = 3;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** `n` ids in partition `p` */
function idsIn(p: number, n: number, tag: string): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) if (partitionOf(`${tag}-${i}`, N) === p) out.push(`${tag}-${i}`);
  return out;
}

describe('one partition whose claims fail', () => {
  it("the tasks the other partitions' claims took run at once; none is left RUNNING with no one running it", async () => {
    const r = { port: server.port, keyPrefix: '{broken}:', partitions: N };
    const parts = partitionKeys(resolveRedisConfig(r));
    const client = new Client({ redis: r });
    cleanup.push(() => client.close());
    const ran: string[] = [];
    const worker = new Worker({ port: 0, redis: r, concurrency: 8, fetchTaskInterval: 200, heartbeatInterval: 500, logger: quiet });
    worker.addTaskFunction('work', (t) => void ran.push(t.id));
    cleanup.push(() => worker.stop());
    await worker.start();
    // partition 2's queue is now a key of another type: every claim and wait there fails
    await redis.del(parts[2]!.newQueue);
    await redis.set(parts[2]!.newQueue, 'not a list');
    const ids = [...idsIn(0, 4, 'a'), ...idsIn(1, 4, 'b')];
    for (const id of ids) await client.submit('work', id, { id });
    const ended = await Promise.all(ids.map((id) => client.wait(id, { timeout: 6000 }).catch(() => null)));
    const stuck = [];
    for (const id of ids) {
      const t = await client.get(id);
      if (t?.state === 'RUNNING' && !worker.running.includes(id)) stuck.push(id);
    }
    expect(stuck).toEqual([]);
    expect(ended.map((t) => t?.outcome ?? 'not ended')).toEqual(ids.map(() => 'succeeded'));
    expect([...ran].sort()).toEqual([...ids].sort());
  }, 30_000);

  it('a worker stopping past its grace hands back the tasks of every other partition', async () => {
    const r = { port: server.port, keyPrefix: '{backs}:', partitions: N };
    const parts = partitionKeys(resolveRedisConfig(r));
    const client = new Client({ redis: r });
    cleanup.push(() => client.close());
    const started: string[] = [];
    const worker = new Worker({ port: 0, redis: r, concurrency: 8, stopGrace: 200, abortTimeout: 200, logger: quiet });
    worker.addTaskFunction('hang', (t) => {
      started.push(t.id);
      // returns only when aborted
      return new Promise((_, reject) => t.signal.addEventListener('abort', () => reject(new Error('aborted'))));
    });
    await worker.start();
    const ids = [...idsIn(0, 2, 'h'), ...idsIn(1, 2, 'h'), ...idsIn(2, 2, 'h')];
    for (const id of ids) await client.submit('hang', id, { id });
    const deadline = Date.now() + 5000;
    while (started.length < ids.length && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    expect(started.length).toBe(ids.length);
    // partition 0's hand-back fails from now on (the first the worker hands back in)
    await redis.del(parts[0]!.newQueue);
    await redis.set(parts[0]!.newQueue, 'not a list');
    await worker.stop();
    const states = await Promise.all(ids.map(async (id) => [id, (await client.get(id))?.state] as const));
    // partition 0's stay RUNNING until a monitor's timeout; every other one is queued again
    expect(states.filter(([id]) => partitionOf(id, N) !== 0)).toEqual(ids.filter((id) => partitionOf(id, N) !== 0).map((id) => [id, 'QUEUED']));
  }, 30_000);
});
