/**
 * The swarm's own primary frozen (SIGSTOP) and its replica promoted while a worker runs a task:
 * a stop sent once the replica serves reaches the worker and the task ends stopped. No
 * connection learns of that failover by itself: the frozen node's socket stays open and silent,
 * so no MOVED and no close tells the client's calls, the worker's or its subscriber's where the
 * slot went.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { buildKeys } from '../src/keys.js';
import { resolveRedisConfig } from '../src/config.js';
import { until } from './helpers/redis-server.js';
import { deployCluster, keyHome, removeCluster, swarmHome, type ClusterDeployment } from './helpers/deployments.js';

const prefix = '{ctlfail}:';
let d: ClusterDeployment | undefined;
let dir: string | undefined;
let frozen: ClusterDeployment['nodes'][number] | undefined;

beforeAll(async () => {
  ({ dep: d, dir } = await deployCluster('task-swarm-control-home-failover', { nodeTimeout: 1000 }));
}, 60_000);

afterAll(async () => {
  frozen?.proc.kill('SIGCONT');
  await removeCluster(d, dir);
});

describe("a worker's control subscription when the swarm's primary is frozen and its replica promoted", () => {
  it('hears a stop sent after the failover', async () => {
    const home = await swarmHome(d!.seeds, prefix);
    const redis = { cluster: d!.seeds, keyPrefix: prefix };
    const worker = new Worker({ port: 0, redis, heartbeatInterval: 250 });
    worker.addTaskFunction('hold', (t) => new Promise((r) => t.signal.addEventListener('abort', () => r('aborted'))));
    await worker.start();
    const client = new Client({ redis });
    try {
      const id = await client.submit('hold', null);
      await until(async () => (await client.get(id))?.state === 'RUNNING', 'the task running', 10_000, 50);
      frozen = d!.nodes.find((n) => n.port === home)!;
      frozen.proc.kill('SIGSTOP');
      const live = d!.nodes.find((n) => n !== frozen)!;
      const key = buildKeys(resolveRedisConfig(redis)).newQueue;
      await until(async () => (await keyHome(live.port, key)) !== home, 'the replica promoted', 20_000, 200);
      // sent again until heard: a stop published while no subscriber was live is gone
      await until(
        async () => {
          await client.control(id, 'stop').catch(() => {});
          return (await client.get(id).catch(() => undefined))?.state === 'END';
        },
        'the task ended by a stop',
        40_000,
        1000,
      );
      expect(await client.get(id)).toMatchObject({ state: 'END', outcome: 'stopped' });
    } finally {
      frozen?.proc.kill('SIGCONT');
      await client.close();
      await worker.stop();
    }
  }, 120_000);
});
