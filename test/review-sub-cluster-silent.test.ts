/**
 * A Client on a Redis Cluster subscribes on one node connection of its own (ioredis's
 * ClusterSubscriber), to a node drawn at random among all of them. When that node goes silent
 * once the connection is ready (frozen, or cut off with its socket open), ioredis keeps it:
 * the channels subscribed there hear nothing more, a new subscribe waits for good, while the
 * cluster serves on (its replica promoted, or another node's) and the swarm's node is fine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { buildKeys } from '../src/keys.js';
import { resolveRedisConfig } from '../src/config.js';
import type { TaskEvent } from '../src/wire.js';
import { freePort, until } from './helpers/redis-server.js';
import { spawnCluster, swarmHome, type ClusterDeployment } from './helpers/deployments.js';

let d: ClusterDeployment;
let dir: string;
const prefix = '{silent}:';
let home: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'task-swarm-review-sub-silent-'));
  const ports = await Promise.all(Array.from({ length: 12 }, () => freePort()));
  d = await spawnCluster(dir, ports.slice(0, 6), ports.slice(6), { replicas: 1, nodeTimeout: 1000, extra: ['--cluster-require-full-coverage', 'no'] });
  home = await swarmHome(d.seeds, prefix);
}, 90_000);

afterAll(async () => {
  for (const n of d?.nodes ?? []) {
    n.proc.kill('SIGCONT');
    await n.kill('SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('a Client on a Cluster whose subscriber node goes silent', () => {
  it('hears its channels again, and subscribes anew, on another node', async () => {
    const redis = { cluster: d.seeds, keyPrefix: prefix };
    const channel = (id: string) => buildKeys(resolveRedisConfig(redis)).events(id);
    // the node its subscriber connection drew: the swarm's primary (src/subscriber-home.ts),
    // whose replica takes over once it is silent
    const client = new Client({ redis });
    const got = new Map<string, TaskEvent[]>([['old', []], ['new', []]]);
    await client.subscribe('old', (ev) => got.get('old')!.push(ev)).ready;
    const node = (client as unknown as { sub: { subscriber: { getInstance(): Redis } } }).sub.subscriber.getInstance();
    expect(node.options.port).toBe(home);
    const silent = d.nodes.find((n) => n.port === node.options.port)!;
    const publisher = new Redis({ port: d.nodes.find((n) => n !== silent)!.port });
    try {
      silent.proc.kill('SIGSTOP');
      const renew = client.subscribe('new', (ev) => got.get('new')!.push(ev));
      const ready = await Promise.race([renew.ready.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 15_000))]);
      expect(ready).toBe(true);
      await until(
        async () => {
          for (const id of ['old', 'new']) if (got.get(id)!.length === 0) await publisher.publish(channel(id), JSON.stringify({ event: 'progress', data: id }));
          return got.get('old')!.length > 0 && got.get('new')!.length > 0;
        },
        'an event on each channel',
        5000,
        200,
      ).catch(() => {});
      expect([got.get('old')!.length > 0, got.get('new')!.length > 0]).toEqual([true, true]);
    } finally {
      silent.proc.kill('SIGCONT');
      publisher.disconnect();
      await client.close();
    }
  }, 120_000);
});
