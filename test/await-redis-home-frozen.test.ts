/**
 * A worker on a Redis Cluster whose own primary is frozen (SIGSTOP, no replica to take over)
 * finds Redis lost and waits for it. Other primaries answering is not Redis back for this swarm:
 * the wait asks where the swarm is, not a node drawn at random, or the worker went back to
 * reconcile again and again, each time against the frozen node, while nothing had changed.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from '../src/index.js';
import { until } from './helpers/redis-server.js';
import { deployCluster, removeCluster, swarmHome, type ClusterDeployment } from './helpers/deployments.js';

const prefix = '{homefrozen}:';
let d: ClusterDeployment | undefined;
let dir: string | undefined;
let frozen: ClusterDeployment['nodes'][number] | undefined;

beforeAll(async () => {
  ({ dep: d, dir } = await deployCluster('task-swarm-await-home-frozen', { nodeTimeout: 1000, replicas: 0, extra: ['--cluster-require-full-coverage', 'no'] }));
}, 60_000);

afterAll(async () => {
  frozen?.proc.kill('SIGCONT');
  await removeCluster(d, dir);
});

describe("a worker while its swarm's primary is frozen and the other primaries serve on", () => {
  it('waits for that primary: no reconcile until it answers, then one', async () => {
    const home = await swarmHome(d!.seeds, prefix);
    const redis = { cluster: d!.seeds, keyPrefix: prefix };
    const worker = new Worker({ port: 0, redis, heartbeatInterval: 250 });
    worker.addTaskFunction('echo', async (t) => t.data);
    const states: string[] = [];
    worker.on('state', (v: unknown) => states.push(JSON.stringify(v)));
    await worker.start();
    try {
      frozen = d!.nodes.find((n) => n.port === home)!;
      frozen.proc.kill('SIGSTOP');
      await until(async () => states.some((s) => /redisDown|halted|partitioned/.test(s)), 'the worker finding Redis lost', 15_000, 50);
      const since = states.length;
      // the others see it failed: they answer for their slots, this swarm's go unserved
      for (const n of d!.nodes.filter((x) => x !== frozen)) {
        const c = new Redis({ port: n.port });
        await until(async () => ((await c.cluster('NODES')) as string).split('\n').some((l) => l.includes(`:${home}@`) && /\bfail\b/.test(l)), 'the frozen node failed', 15_000, 100);
        c.disconnect();
      }
      await new Promise((r) => setTimeout(r, 8000));
      expect(states.slice(since).filter((s) => s.includes('reconciling'))).toEqual([]);
      frozen.proc.kill('SIGCONT');
      frozen = undefined;
      await until(async () => states.slice(since).some((s) => s.includes('reconciling')), 'the worker reconciling once its primary answers', 30_000, 50);
    } finally {
      frozen?.proc.kill('SIGCONT');
      frozen = undefined;
      await worker.stop();
    }
  }, 120_000);
});
