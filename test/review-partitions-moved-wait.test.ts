/**
 * A partition moved to another primary (moveSwarmSlot's `partition`) while an idle worker is
 * blocked on it. The worker blocks on each partition through a Cluster connection of its own,
 * which sends nothing but its waits: a wait is a pipeline with a keyless command (CLIENT ID),
 * and ioredis neither follows nor learns from a MOVED in such a pipeline. So every later wait
 * on the moved partition failed at once, which ended the idle worker's wait on every partition
 * at once: it claimed, found nothing, and waited again, in a hot loop for as long as it was
 * idle (thousands of script calls a second on the cluster). The wait must recover: one failed
 * wait, then waits that block again, and a task in the moved partition still taken at once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, moveSwarmSlot, Worker } from '../src/index.js';
import { resolveRedisConfig } from '../src/config.js';
import { partitionKeys, partitionOf } from '../src/partitions.js';
import { freePort, until } from './helpers/redis-server.js';
import { spawnCluster, type ClusterDeployment } from './helpers/deployments.js';

const P = 3;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let d: ClusterDeployment;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'task-swarm-part-moved-'));
  const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  d = await spawnCluster(dir, ports.slice(0, 3), ports.slice(3), { replicas: 0, nodeTimeout: 2000 });
}, 60_000);

afterAll(async () => {
  for (const n of d?.nodes ?? []) await n.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function homes(keyPrefix: string): Promise<number[]> {
  const c = new Cluster(d.seeds.slice(0, 1));
  try {
    const slots = (await c.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
    const out: number[] = [];
    for (const k of partitionKeys(resolveRedisConfig({ cluster: d.seeds, keyPrefix, partitions: P }))) {
      const slot = Number(await c.cluster('KEYSLOT', k.newQueue));
      out.push(slots.find(([a, b]) => slot >= a && slot <= b)![2][1]);
    }
    return out;
  } finally {
    c.disconnect();
  }
}

/** script calls (FCALL) the cluster's primaries have run so far */
async function scriptCalls(): Promise<number> {
  let n = 0;
  for (const node of d.nodes) {
    const r = new Redis({ port: node.port, lazyConnect: true });
    try {
      const stats = await r.info('commandstats');
      n += Number(/cmdstat_fcall:calls=(\d+)/.exec(stats)?.[1] ?? 0);
    } finally {
      r.disconnect();
    }
  }
  return n;
}

describe('a partition moved while an idle worker blocks on it', () => {
  it('the idle worker blocks again (no hot loop) and takes a task of the moved partition at once', async () => {
    const keyPrefix = '{moving}:';
    const redis = { cluster: d.seeds, keyPrefix, partitions: P };
    const before = await homes(keyPrefix);
    const started = new Map<string, number>();
    // a poll far longer than the test: a task taken in time was not found by it
    const worker = new Worker({ port: 0, redis, concurrency: 4, fetchTaskInterval: 20_000, logger: quiet });
    worker.addTaskFunction('echo', (t) => void started.set(t.id, Date.now()));
    await worker.start();
    const client = new Client({ redis });
    try {
      const idIn0 = (tag: string) => {
        for (let i = 0; ; i++) if (partitionOf(`${tag}-${i}`, P) === 0) return `${tag}-${i}`;
      };
      // the worker idle and blocked; partition 0 goes to partition 1's primary
      await sleep(500);
      await moveSwarmSlot(redis, { host: '127.0.0.1', port: before[1]! }, { partition: 0 });
      expect((await homes(keyPrefix))[0]).toBe(before[1]);
      // its wait on partition 0 fails once, at the next wait or when a task comes
      const first = idIn0('first');
      await client.submit('echo', 1, { id: first });
      await client.wait(first, { timeout: 25_000 });
      // then idle: a few script calls a second (a wait's ready.lua per partition), not thousands
      await sleep(300);
      const a = await scriptCalls();
      await sleep(2000);
      const calls = (await scriptCalls()) - a;
      expect(calls).toBeLessThan(100);
      // and woken at once for a task of the moved partition
      const next = idIn0('next');
      const at = Date.now();
      await client.submit('echo', 2, { id: next });
      await until(() => started.get(next), 'the task of the moved partition started', 20_000);
      expect(started.get(next)! - at).toBeLessThan(2000);
      // and, its END written with the claim that found nothing more, blocked again (the task's
      // start is seen before that claim has answered: the worker is fetching until it has)
      await until(() => JSON.stringify(worker.state) === JSON.stringify({ connected: 'waiting' }), 'the worker waiting on the queue again', 5000);
    } finally {
      await client.close();
      await worker.stop();
    }
  }, 90_000);
});
