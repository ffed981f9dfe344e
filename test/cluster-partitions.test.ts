/**
 * One swarm spread over a Redis Cluster's primaries (`partitions: 6` on three primaries with a
 * replica each): each partition in a slot of its own, on its own primary, so the swarm's load
 * is shared. Worker, monitor and producer processes run 150 tasks through it while the faults
 * of a cluster happen: one partition's primary SIGKILLed (its replica promoted), one partition
 * moved onto another primary. Every task ends, none is lost, no process restarted.
 */
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, moveSwarmSlot } from '../src/index.js';
import { resolveRedisConfig } from '../src/config.js';
import { partitionKeys, partitionOf } from '../src/partitions.js';
import { serverRunIds } from '../src/server-version.js';
import { deployCluster, removeCluster, type ClusterDeployment } from './helpers/deployments.js';
import type { WorkerProcess } from './helpers/processes.js';
import { swarmThroughFault } from './helpers/swarm-through-fault.js';

const P = 6;
const TASKS = 150;
const TASK_MS = 200;

const procs: WorkerProcess[] = [];
let d: ClusterDeployment;
let dir: string;

/** three primaries with a replica each, in a directory of their own */
beforeAll(async () => {
  ({ dep: d, dir } = await deployCluster('task-swarm-cluster-parts'));
}, 60_000);

afterAll(async () => {
  for (const p of procs) await p.kill('SIGKILL');
  await removeCluster(d, dir);
});

/** the port of the primary serving each partition of the swarm under `keyPrefix` */
async function homes(keyPrefix: string, dep = d): Promise<number[]> {
  const c = new Cluster(dep.seeds.filter((s) => dep.nodes.find((n) => n.port === s.port)!.proc.exitCode === null && dep.nodes.find((n) => n.port === s.port)!.proc.signalCode === null).slice(0, 1));
  try {
    await c.ping();
    const slots = (await c.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
    const keys = partitionKeys(resolveRedisConfig({ cluster: dep.seeds, keyPrefix, partitions: P }));
    const out: number[] = [];
    for (const k of keys) {
      const slot = Number(await c.cluster('KEYSLOT', k.newQueue));
      out.push(slots.find(([a, b]) => slot >= a && slot <= b)![2][1]);
    }
    return out;
  } finally {
    c.disconnect();
  }
}

/** how many keys of the partitions of the swarm tagged `tag` each live primary holds */
async function keysPerNode(tag: string): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const n of d.nodes) {
    if (n.proc.exitCode !== null || n.proc.signalCode !== null) continue;
    const r = new Redis({ port: n.port });
    try {
      if (!/role:master/.test(await r.info('replication'))) continue;
      // (the partitions' prefixes: `{tag:0}:`, `{tag:1.4}:`...)
      const keys = await r.keys(`{${tag}:*`);
      if (keys.length) out.set(n.port, keys.length);
    } finally {
      r.disconnect();
    }
  }
  return out;
}

/** the swarm on `keyPrefix` through `fault` (test/helpers/swarm-through-fault.ts) */
function runThrough(keyPrefix: string, fault: () => Promise<void>, dep = d): Promise<{ twice: string[] }> {
  // (the helper's ids, t0...: spread over every partition)
  expect(new Set(Array.from({ length: TASKS }, (_, i) => partitionOf(`t${i}`, P))).size).toBe(P);
  return swarmThroughFault({ redis: { cluster: dep.seeds, keyPrefix, partitions: P }, producerRedis: { url: `redis+cluster://127.0.0.1:${dep.seeds[0]!.port}`, keyPrefix, partitions: P }, tasks: TASKS, taskMs: TASK_MS, procs }, fault);
}

describe('one swarm over three primaries (partitions: 6, two on each)', () => {
  it('spreads the partitions over the primaries, two on each; a client finds every task by its id', async () => {
    const keyPrefix = '{spread}:';
    const primaries = d.nodes.slice(0, 3).map((n) => n.port);
    const h = await homes(keyPrefix);
    expect(new Set(h)).toEqual(new Set(primaries));
    for (const port of primaries) expect(h.filter((x) => x === port)).toHaveLength(2);
    const client = new Client({ redis: { cluster: d.seeds, keyPrefix, partitions: P } });
    try {
      const ids = await client.submitMany(Array.from({ length: 30 }, (_, i) => ({ fn: 'nobody', data: i })));
      for (const id of ids) expect(await client.get(id)).toMatchObject({ state: 'QUEUED' });
      // the load is shared: every primary holds keys of the swarm
      expect([...(await keysPerNode('spread')).keys()].sort()).toEqual([...primaries].sort());
      // (not routed to a function's queue yet: no worker has claimed; counted over every partition)
      expect((await client.stats()).queued).toBe(30);
    } finally {
      await client.close();
    }
  }, 60_000);

  // (a monitor back from a lost link tells by them whether any partition's primary restarted
  // or was replaced, its data perhaps lost: src/monitor.ts sameServer)
  it('the servers of the swarm are known by the run id of each partition\'s primary', async () => {
    const keyPrefix = '{ids}:';
    const h = await homes(keyPrefix);
    const c = new Cluster(d.seeds);
    try {
      const keys = partitionKeys(resolveRedisConfig({ cluster: d.seeds, keyPrefix, partitions: P }));
      const ids = (await serverRunIds(c, keys.map((k) => k.taskSet)))!.split(',');
      const own: string[] = [];
      for (const port of h) {
        const r = new Redis({ port });
        own.push(/^run_id:(\w+)/m.exec(await r.info('server'))![1]!);
        r.disconnect();
      }
      expect(ids).toEqual(own);
      expect(new Set(ids).size).toBe(3);
    } finally {
      c.disconnect();
    }
  });

  it('one partition moved onto another primary mid-run: every task runs once and ends', async () => {
    const keyPrefix = '{moved}:';
    const before = await homes(keyPrefix);
    const { twice } = await runThrough(keyPrefix, async () => {
      const r = await moveSwarmSlot({ cluster: d.seeds, keyPrefix, partitions: P }, { host: '127.0.0.1', port: before[P - 1]! }, { partition: 0 });
      expect(r.keys).toBeGreaterThan(0);
    });
    expect(twice).toEqual([]);
    const after = await homes(keyPrefix);
    expect(before[0]).not.toBe(before[P - 1]);
    expect(after[0]).toBe(before[P - 1]);
  }, 120_000);
});

// A cluster of its own: the SIGKILL leaves a primary dead and its replica promoted, which the
// tests above, on the shared cluster, do not expect whatever order they run in.
describe('one swarm over three primaries, one of which dies', () => {
  let own: ClusterDeployment;
  let ownDir: string;
  beforeAll(async () => {
    ({ dep: own, dir: ownDir } = await deployCluster('task-swarm-cluster-parts'));
  }, 60_000);
  afterAll(async () => {
    await removeCluster(own, ownDir);
  });

  it("one partition's primary SIGKILLed mid-run: its replica is promoted, every task ends, no process restarted", async () => {
    const keyPrefix = '{failing}:';
    const before = await homes(keyPrefix, own);
    const victim = own.nodes.find((n) => n.port === before[2])!;
    await runThrough(keyPrefix, () => victim.kill('SIGKILL'), own);
    const after = await homes(keyPrefix, own);
    expect(after[2]).not.toBe(before[2]);
  }, 120_000);
});
