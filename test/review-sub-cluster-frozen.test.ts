/**
 * A Client on a Redis Cluster subscribes through one node connection of its own (ioredis's
 * ClusterSubscriber), on a node drawn at random among all the cluster's nodes, whichever keys
 * the channels have. When that node is silent (frozen, or cut off by a partition that leaves its
 * socket open) while the cluster serves on without it (cluster-require-full-coverage no, or its
 * replica promoted), that connection's handshake never ends and nothing moves it elsewhere:
 * every subscribe of the client waits, `ready` never settles, and no event of any task reaches
 * it, though the node serving the swarm is fine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { buildKeys } from '../src/keys.js';
import { resolveRedisConfig } from '../src/config.js';
import { freePort, until } from './helpers/redis-server.js';
import { spawnCluster, swarmHome, type ClusterDeployment } from './helpers/deployments.js';

let d: ClusterDeployment;
let dir: string;
const prefix = '{frozen}:';
let frozen: ClusterDeployment['nodes'][number];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'task-swarm-review-sub-frozen-'));
  const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  d = await spawnCluster(dir, ports.slice(0, 3), ports.slice(3), { replicas: 0, nodeTimeout: 1000, extra: ['--cluster-require-full-coverage', 'no'] });
  const home = await swarmHome(d.seeds, prefix);
  frozen = d.nodes.find((n) => n.port !== home)!;
  frozen.proc.kill('SIGSTOP');
  for (const n of d.nodes.filter((x) => x !== frozen)) {
    const c = new Redis({ port: n.port });
    await until(async () => /cluster_state:ok/.test((await c.cluster('INFO')) as string) && ((await c.cluster('NODES')) as string).split('\n').some((l) => l.includes(`:${frozen.port}@`) && /\bfail\b/.test(l)), `node ${n.port} serving without the frozen one`, 15_000, 100);
    c.disconnect();
  }
}, 90_000);

afterAll(async () => {
  frozen?.proc.kill('SIGCONT');
  for (const n of d?.nodes ?? []) await n.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('a Client on a Cluster with one node frozen', () => {
  it("subscribes, and gets its tasks' events, whichever node its subscriber connection drew", async () => {
    const stuck: number[] = [];
    const publisher = new Redis({ port: d.nodes.find((n) => n !== frozen)!.port });
    const redis = { cluster: d.seeds, keyPrefix: prefix };
    const channel = buildKeys(resolveRedisConfig(redis)).events('t');
    // the subscriber's node is drawn at random, one in three the frozen one: five clients meet it
    // at least once (87%); drawn again each time the connection is dropped, the frozen node may
    // be drawn a few times in a row. Each such draw costs 6 to 8 s (measured under load: the
    // handshake left hanging until src/redis.ts drops it, then the subscribe sent again), so a
    // client may take 60 s: five frozen draws in a row, one run in fifty with 30 s, failed a CI run
    for (let i = 0; i < 5; i++) {
      const c = new Client({ redis });
      try {
        const got: unknown[] = [];
        const off = c.subscribe('t', (ev) => got.push(ev));
        const ready = await Promise.race([off.ready.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 60_000))]);
        if (ready) {
          await publisher.publish(channel, JSON.stringify({ event: 'progress' }));
          await until(async () => got.length > 0, 'the event', 2000).catch(() => {});
        }
        if (!ready || got.length === 0) stuck.push(i);
      } finally {
        await c.close();
      }
    }
    publisher.disconnect();
    expect(stuck).toEqual([]);
  }, 400_000);
});
