/**
 * One shard of a Redis Cluster frozen (SIGSTOP: its socket stays open and silent, as behind a
 * partition), a shard that does not serve the swarm's slot: a worker, a monitor and a client of
 * that swarm start and run its tasks, as they do when that shard is killed. What they ask of
 * every primary (the server's version, the function library) passes over one that does not
 * answer; what they ask of no node in particular must not land on it either.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client, Monitor, Worker } from '../src/index.js';
import { until } from './helpers/redis-server.js';
import { clusterView, deployCluster, removeCluster, swarmHome, type ClusterDeployment } from './helpers/deployments.js';

const prefix = '{foreign}:';
let d: ClusterDeployment | undefined;
let dir: string | undefined;
let home: number;
const frozen: ClusterDeployment['nodes'][number][] = [];
const running: { stop(): Promise<unknown> }[] = [];

beforeAll(async () => {
  // no replicas, full coverage not required: the frozen shard's slots go unserved, the others serve on
  ({ dep: d, dir } = await deployCluster('task-swarm-foreign-frozen', { nodeTimeout: 1000, replicas: 0, extra: ['--cluster-require-full-coverage', 'no'] }));
  home = await swarmHome(d.seeds, prefix);
}, 60_000);

afterEach(async () => {
  for (const c of running.splice(0).reverse()) await c.stop().catch(() => {});
  for (const n of frozen.splice(0)) n.proc.kill('SIGCONT');
});

afterAll(async () => {
  for (const n of frozen.splice(0)) n.proc.kill('SIGCONT');
  await removeCluster(d, dir);
});

/** rejects when `p` has not settled within `ms`, saying what */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

describe('a swarm on a Cluster while a primary that does not serve it is frozen', () => {
  // each primary but the swarm's, in turn: a keyless call (PING, TIME) or a subscriber connection
  // sent to a node drawn at random lands on the frozen one in either run, one time in three
  for (const which of [0, 1]) {
    it(`a worker, a monitor and a client start and run a task (the ${which === 0 ? 'first' : 'second'} other primary frozen)`, async () => {
      const victim = d!.nodes.filter((n) => n.port !== home)[which]!;
      // (back from an earlier run: every node serving again before this one freezes)
      await until(async () => (await Promise.all(d!.nodes.map((n) => clusterView(n.port)))).every((r) => /^cluster_state:ok/m.test(r.info) && !/\bfail\b/.test(r.nodes)), 'the cluster whole again', 15_000, 100);
      victim.proc.kill('SIGSTOP');
      frozen.push(victim);
      for (const n of d!.nodes.filter((x) => x !== victim)) {
        await until(async () => (await clusterView(n.port)).nodes.split('\n').some((l) => l.includes(`:${victim.port}@`) && /\bfail\b/.test(l)), `node ${n.port} sees the frozen one failed`, 15_000, 100);
      }
      const redis = { cluster: d!.seeds, keyPrefix: prefix };
      const worker = new Worker({ port: 0, redis, heartbeatInterval: 500 });
      worker.addTaskFunction('echo', async (t) => t.data);
      running.push(worker);
      // (each silent primary costs the start one grace of src/each-primary.ts, not a deadline)
      await within(worker.start(), 8000, 'the worker start');
      const monitor = new Monitor({ redis });
      running.push(monitor);
      await within(monitor.start(), 8000, 'the monitor start');
      const client = new Client({ redis });
      running.push({ stop: () => client.close() });
      const id = await within(client.submit('echo', which), 8000, 'the submit');
      expect(await client.wait(id, { timeout: 8000 })).toMatchObject({ outcome: 'succeeded', result: which });
    }, 60_000);
  }
});
