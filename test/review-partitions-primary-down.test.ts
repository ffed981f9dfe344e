/**
 * One partition's primary down (frozen: SIGSTOP; no replica to take over) in a swarm over three
 * primaries. What holds, bounded: a worker's heartbeat renews every partition, so one that does
 * not answer is Redis lost for the worker, and a monitor's sweep that meets it fails: claims and
 * requeues stop in EVERY partition until that primary answers again (or its replica is promoted:
 * cluster-node-timeout plus an election). Nothing is lost or run twice meanwhile: a task running
 * in a live partition is not requeued (its lease there is renewed each time the worker tries to
 * reconcile), and every task queued meanwhile runs once the primary is back.
 *
 * A design limit (docs/deployments.md, partitions): N partitions on N primaries halt the whole
 * swarm for any one primary's outage, so an outage hits it about N times as often as a swarm in
 * one slot.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Monitor, Worker } from '../src/index.js';
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
  dir = mkdtempSync(join(tmpdir(), 'task-swarm-part-down-'));
  const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  d = await spawnCluster(dir, ports.slice(0, 3), ports.slice(3), { replicas: 0, nodeTimeout: 2000 });
}, 60_000);

afterAll(async () => {
  for (const n of d?.nodes ?? []) {
    n.proc.kill('SIGCONT');
    await n.kill('SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
});

/** the port of the primary serving each partition */
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

function idsIn(p: number, n: number, tag: string): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) if (partitionOf(`${tag}-${i}`, P) === p) out.push(`${tag}-${i}`);
  return out;
}

// Partition 2's primary, and partition 0's: where the layout key is, the node a worker's and a
// monitor's wait for Redis pings (a PING to another shard answering is not Redis back)
const cases = [
  { down: 2, running: 0, queuedIn: [0, 1], keyPrefix: '{down}:' },
  { down: 0, running: 1, queuedIn: [1, 2], keyPrefix: '{down0}:' },
];

describe("one partition's primary down", () => {
  for (const { down, running, queuedIn, keyPrefix } of cases) {
    it(`halts claims in every partition until it answers; nothing is lost or run twice (partition ${down}'s primary)`, async () => {
      const home = await homes(keyPrefix);
      expect(new Set(home).size).toBe(P);
      const redis = { cluster: d.seeds, keyPrefix, partitions: P };
      const starts = new Map<string, number[]>();
      const worker = new Worker({ port: 0, redis, concurrency: 8, heartbeatInterval: 300, fetchTaskInterval: 500, logger: quiet });
      worker.addTaskFunction('work', async (t) => {
        starts.set(t.id, [...(starts.get(t.id) ?? []), Date.now()]);
        await sleep(t.data as number);
      });
      await worker.start();
      const monitor = new Monitor({ redis, taskTimeout: 2000, checkTaskInterval: 300, logger: quiet });
      await monitor.start();
      const client = new Client({ redis });
      try {
        // a long task running in another partition when this one's primary freezes
        const [long] = idsIn(running, 1, 'long');
        await client.submit('work', 5000, { id: long! });
        await until(() => starts.has(long!), 'the long task started', 10_000);
        const victim = d.nodes.find((n) => n.port === home[down])!;
        // (the worker's top states from the freeze on: claims halt once it has heard of it; before
        // that, a claim that tries the live partitions first takes their tasks, as it should)
        const since: string[] = [];
        worker.on('state', (v: unknown) => since.push(typeof v === 'string' ? v : Object.keys(v as object)[0]!));
        victim.proc.kill('SIGSTOP');
        const frozenAt = Date.now();
        await until(() => since.some((s) => s !== 'connected'), `the worker hearing partition ${down}'s primary is gone`, 15_000);
        const queued = queuedIn.flatMap((p) => idsIn(p, 3, 'q'));
        for (const id of queued) await client.submit('work', 50, { id });
        await sleep(4000);
        // the limit: none of the live partitions' tasks was claimed while the frozen one was down
        expect(queued.filter((id) => starts.has(id))).toEqual([]);
        victim.proc.kill('SIGCONT');
        const thawedAt = Date.now();
        for (const id of [long!, ...queued]) expect(await client.wait(id, { timeout: 15_000 })).toMatchObject({ state: 'END', outcome: 'succeeded' });
        // every task ran once; the long one was not requeued while the worker could not heartbeat the frozen partition
        expect([...starts].filter(([, s]) => s.length > 1)).toEqual([]);
        expect(queued.every((id) => starts.get(id)![0]! >= thawedAt - 100)).toBe(true);
        expect(thawedAt - frozenAt).toBeGreaterThanOrEqual(4000);
      } finally {
        await client.close();
        await worker.stop();
        await monitor.stop();
      }
    }, 90_000);
  }
});
