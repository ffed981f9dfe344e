/**
 * A client's first script on a Cluster where a primary of another shard is frozen: the start
 * passes that node over once (the other primaries' answers and a grace of SILENT_NODE_GRACE_MS),
 * not once per question asked of every primary (the server's version, then the library).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { SILENT_NODE_GRACE_MS } from '../src/each-primary.js';
import { deployCluster, removeCluster, swarmHome, type ClusterDeployment } from './helpers/deployments.js';

describe("a client's start on a Cluster with another shard's primary frozen", () => {
  let d: ClusterDeployment | undefined;
  let dir: string | undefined;
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    while (cleanup.length) await cleanup.pop()!();
    await removeCluster(d, dir);
    d = dir = undefined;
  });

  it('the first submit waits at most one grace for the silent node, not two', async () => {
    // (no replicas, a long node timeout: the cluster stays ok while the node is frozen)
    ({ dep: d, dir } = await deployCluster('task-swarm-start-silent', { replicas: 0, nodeTimeout: 60_000 }));
    const keyPrefix = '{startsilent}:';
    const home = await swarmHome(d.seeds, keyPrefix);
    const other = d.nodes.find((n) => n.port !== home)!;
    other.proc.kill('SIGSTOP');
    cleanup.push(() => other.proc.kill('SIGCONT'));
    const c = new Client({ redis: { cluster: d.seeds, keyPrefix } });
    cleanup.push(() => c.close());
    // (a read first: the Cluster ready, its slots learnt, whatever that took with a node frozen)
    expect(await c.get('none')).toBeNull();
    const t0 = performance.now();
    expect(await c.submit('f', 1, { id: 'a' })).toBe('a');
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(2 * SILENT_NODE_GRACE_MS - 200);
  }, 60_000);
});
