/**
 * The Cluster ready check asks every primary at once (src/redis.ts askEachPrimary). The first
 * answer decided, so one primary whose own view says `cluster_state:fail` while the others
 * serve (one cut off from the other nodes but not from the clients, or, as here, one that lost
 * a slot from its own view: CLUSTER DELSLOTS on it alone) failed the check whenever it answered
 * first, and it does whenever it is the seed a connection was given: that connection is open
 * when the check runs, the others are still being made. Three failed checks in a row fail the
 * commands waiting: one connect in four failed so, where ioredis's own check (one primary
 * drawn at random) failed none. One primary that says ok is enough.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../src/redis.js';
import { resolveRedisConfig } from '../src/config.js';
import { freePort, until } from './helpers/redis-server.js';
import { spawnCluster, type ClusterDeployment } from './helpers/deployments.js';

let d: ClusterDeployment;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'task-swarm-review-sub-cluster-'));
  const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  d = await spawnCluster(dir, ports.slice(0, 3), ports.slice(3), { replicas: 0, nodeTimeout: 1000 });
  const odd = d.nodes[2]!;
  const a = new Redis({ port: odd.port });
  const slots = (await a.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
  const own = slots.find((s) => s[2][1] === odd.port)!;
  await a.cluster('DELSLOTS', own[1]);
  await until(async () => /cluster_state:fail/.test((await a.cluster('INFO')) as string), 'the odd node saying fail', 10_000, 100);
  a.disconnect();
  for (const n of d.nodes.slice(0, 2)) {
    const c = new Redis({ port: n.port });
    await until(async () => /cluster_state:ok/.test((await c.cluster('INFO')) as string), `node ${n.port} serving`, 10_000, 100);
    c.disconnect();
  }
}, 90_000);

afterAll(async () => {
  for (const n of d?.nodes ?? []) await n.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('the Cluster ready check', () => {
  it('passes when one primary says the cluster fails and the others say it is ok', async () => {
    const config = resolveRedisConfig({ cluster: [{ host: '127.0.0.1', port: d.nodes[2]!.port }], keyPrefix: '{check}:' });
    const failed: string[] = [];
    for (let i = 0; i < 20; i++) {
      const conn = connect(config, 'command', `check-${i}`, { lazyConnect: false });
      try {
        await conn.ping();
      } catch (e) {
        failed.push((e as Error).message);
      } finally {
        conn.disconnect();
      }
    }
    expect(failed).toEqual([]);
  }, 60_000);
});
