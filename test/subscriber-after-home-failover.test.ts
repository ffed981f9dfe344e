/**
 * The swarm's own primary frozen (SIGSTOP: its socket stays open and silent) and its replica
 * promoted: a Client subscribed to a task's events must hear them again through a live node.
 * Its subscriber connection is a Cluster of its own that sends no keyed command, so it gets no
 * MOVED and never learns that the slot moved: it must not keep drawing the frozen node.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { buildKeys } from '../src/keys.js';
import { resolveRedisConfig } from '../src/config.js';
import { until } from './helpers/redis-server.js';
import { deployCluster, keyHome, removeCluster, swarmHome, type ClusterDeployment } from './helpers/deployments.js';

const prefix = '{homefail}:';
let d: ClusterDeployment | undefined;
let dir: string | undefined;
let frozen: ClusterDeployment['nodes'][number] | undefined;

beforeAll(async () => {
  ({ dep: d, dir } = await deployCluster('task-swarm-sub-home-failover', { nodeTimeout: 1000 }));
}, 60_000);

afterAll(async () => {
  frozen?.proc.kill('SIGCONT');
  await removeCluster(d, dir);
});

describe("a Client's subscription when the swarm's primary is frozen and its replica promoted", () => {
  it('hears the events published after the failover', async () => {
    const home = await swarmHome(d!.seeds, prefix);
    const redis = { cluster: d!.seeds, keyPrefix: prefix };
    const channel = buildKeys(resolveRedisConfig(redis)).events('t');
    const client = new Client({ redis });
    const got: unknown[] = [];
    const off = client.subscribe('t', (ev) => got.push(ev));
    try {
      await off.ready;
      frozen = d!.nodes.find((n) => n.port === home)!;
      frozen.proc.kill('SIGSTOP');
      const live = d!.nodes.find((n) => n !== frozen)!;
      const key = buildKeys(resolveRedisConfig(redis)).newQueue;
      await until(async () => (await keyHome(live.port, key)) !== home, 'the replica promoted', 20_000, 200);
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
      frozen?.proc.kill('SIGCONT');
      await client.close();
    }
  }, 90_000);
});
