/**
 * The swarm's own primary frozen (SIGSTOP: its socket stays open and silent) and its replica
 * promoted. No connection learns of that failover by itself: no MOVED and no close tells the
 * client's calls, the worker's or a subscriber's where the slot went. A subscriber connection is
 * a Cluster of its own that sends no keyed command at all: it must not keep drawing the frozen
 * node. Each case freezes the primary of its own swarm, and thaws it at its end.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { buildKeys } from '../src/keys.js';
import { resolveRedisConfig } from '../src/config.js';
import { until } from './helpers/redis-server.js';
import { clusterView, deployCluster, keyHome, removeCluster, swarmHome, type ClusterDeployment } from './helpers/deployments.js';

type Node = ClusterDeployment['nodes'][number];
let d: ClusterDeployment | undefined;
let dir: string | undefined;
const frozen = new Set<Node>();

beforeAll(async () => {
  ({ dep: d, dir } = await deployCluster('task-swarm-home-failover', { nodeTimeout: 1000 }));
}, 60_000);

afterAll(async () => {
  for (const n of frozen) n.proc.kill('SIGCONT');
  await removeCluster(d, dir);
});

/** the primary serving `redis`'s swarm frozen, once its replica serves the slot: the live node asked */
async function freezeHomeUntilReplaced(redis: { keyPrefix: string }): Promise<Node> {
  // (a node thawed by an earlier case is back as a replica, in sync, before this one freezes)
  await until(
    async () => {
      for (const n of d!.nodes) {
        const { nodes } = await clusterView(n.port);
        if (/\bfail\??\b/.test(nodes)) return false;
        const probe = new Redis({ port: n.port, lazyConnect: true, retryStrategy: () => null });
        try {
          const info = await probe.info('replication');
          if (/^role:slave/m.test(info) && !/^master_link_status:up/m.test(info)) return false;
        } finally {
          probe.disconnect();
        }
      }
      return true;
    },
    'the cluster whole, every replica in sync',
    30_000,
    200,
  );
  const home = await swarmHome(d!.seeds, redis.keyPrefix);
  const node = d!.nodes.find((n) => n.port === home)!;
  node.proc.kill('SIGSTOP');
  frozen.add(node);
  const live = d!.nodes.find((n) => n !== node)!;
  const key = buildKeys(resolveRedisConfig({ cluster: d!.seeds, ...redis })).newQueue;
  await until(async () => (await keyHome(live.port, key)) !== home, 'the replica promoted', 20_000, 200);
  return live;
}

function thaw(node: Node | undefined): void {
  if (!node) return;
  node.proc.kill('SIGCONT');
  frozen.delete(node);
}

describe("a Client's subscription when the swarm's primary is frozen and its replica promoted", () => {
  it('hears the events published after the failover', async () => {
    const redis = { cluster: d!.seeds, keyPrefix: '{homefail}:' };
    const channel = buildKeys(resolveRedisConfig(redis)).events('t');
    const client = new Client({ redis });
    const got: unknown[] = [];
    const off = client.subscribe('t', (ev) => got.push(ev));
    try {
      await off.ready;
      const live = await freezeHomeUntilReplaced(redis);
      const publisher = new Redis({ port: live.port });
      try {
        // published again and again: heard once the subscriber is on a live node
        await until(
          async () => {
            await publisher.publish(channel, JSON.stringify({ event: 'progress' }));
            return got.length > 0;
          },
          'an event published after the failover',
          30_000,
          500,
        );
      } finally {
        publisher.disconnect();
      }
      expect(got.length).toBeGreaterThan(0);
    } finally {
      off();
      for (const n of [...frozen]) thaw(n);
      await client.close();
    }
  }, 90_000);
});

describe("a worker's control subscription when the swarm's primary is frozen and its replica promoted", () => {
  it('hears a stop sent after the failover', async () => {
    const redis = { cluster: d!.seeds, keyPrefix: '{ctlfail}:' };
    const worker = new Worker({ port: 0, redis, heartbeatInterval: 250 });
    worker.addTaskFunction('hold', (t) => new Promise((r) => t.signal.addEventListener('abort', () => r('aborted'))));
    await worker.start();
    const client = new Client({ redis });
    try {
      const id = await client.submit('hold', null);
      await until(async () => (await client.get(id))?.state === 'RUNNING', 'the task running', 10_000, 50);
      await freezeHomeUntilReplaced(redis);
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
      for (const n of [...frozen]) thaw(n);
      await client.close();
      await worker.stop();
    }
  }, 120_000);
});
