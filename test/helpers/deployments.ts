/** (the deployments live in tools/, shared with the bench's Sentinel scenario) */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { buildKeys } from '../../src/keys.js';
import { resolveRedisConfig } from '../../src/config.js';

import { freePort } from '../../tools/redis-process.js';
import { spawnCluster, type ClusterDeployment } from '../../tools/deployments.js';

export * from '../../tools/deployments.js';

/**
 * a test cluster in a directory of its own, named `name`: 3 primaries with a replica each and a
 * node timeout of 2 s unless `o` says otherwise (spawnCluster's options)
 */
export async function deployCluster(name: string, o: Parameters<typeof spawnCluster>[3] = {}): Promise<{ dep: ClusterDeployment; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  const count = (o.primaries ?? 3) * (1 + (o.replicas ?? 1));
  const ports = await Promise.all(Array.from({ length: 2 * count }, () => freePort()));
  return { dep: await spawnCluster(dir, ports.slice(0, count), ports.slice(count), { nodeTimeout: 2000, ...o }), dir };
}

/** its nodes SIGKILLed and its directory removed (either may be missing: its deploy failed) */
export async function removeCluster(dep: ClusterDeployment | undefined, dir: string | undefined): Promise<void> {
  for (const n of dep?.nodes ?? []) await n.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** the port of the primary serving the slot of the swarm on `keyPrefix`, asked of the first seed */
export async function swarmHome(seeds: { host: string; port: number }[], keyPrefix: string): Promise<number> {
  return keyHome(seeds[0]!.port, buildKeys(resolveRedisConfig({ cluster: seeds, keyPrefix })).newQueue);
}

/** the port of the primary serving `key`'s slot, as the node on `port` sees the cluster */
export async function keyHome(port: number, key: string): Promise<number> {
  const admin = new Redis({ port });
  try {
    const slot = Number(await admin.cluster('KEYSLOT', key));
    const slots = (await admin.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
    return slots.find(([a, b]) => slot >= a && slot <= b)![2][1];
  } finally {
    admin.disconnect();
  }
}

/** CLUSTER INFO and NODES as the node on `port` sees the cluster (one try: a silent node rejects) */
export async function clusterView(port: number): Promise<{ info: string; nodes: string }> {
  const c = new Redis({ port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  c.on('error', () => {});
  try {
    return { info: (await c.cluster('INFO')) as string, nodes: (await c.cluster('NODES')) as string };
  } finally {
    c.disconnect();
  }
}
