/**
 * Metrics of a swarm on a Redis Cluster, spread over its three primaries (`partitions: 3`): the
 * monitor reads each partition's counts on the primary that serves it (the read of
 * `task-swarm status`, in one transaction per partition) and sums them as status does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Monitor, Worker } from '../src/index.js';
import { partitionOf } from '../src/partitions.js';
import { deployCluster, removeCluster, type ClusterDeployment } from './helpers/deployments.js';
import { readExposition } from './helpers/exposition.js';
import { until } from './helpers/redis-server.js';

let d: ClusterDeployment;
let dir: string;
const cleanup: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  ({ dep: d, dir } = await deployCluster('task-swarm-metrics-cluster', { replicas: 0 }));
}, 60_000);

afterAll(async () => {
  while (cleanup.length) await cleanup.pop()!();
  await removeCluster(d, dir);
});

describe('metrics on a Redis Cluster', () => {
  it('the monitor\'s swarm gauges are status\'s counts, summed over partitions on three primaries', async () => {
    const redis = { cluster: d.seeds, keyPrefix: '{metrics}:', partitions: 3 };
    const monitor = new Monitor({ redis, metricsPort: 0, checkTaskInterval: 200 });
    cleanup.push(() => monitor.stop());
    await monitor.start();
    const worker = new Worker({ port: 0, redis, concurrency: 4 });
    worker.addTaskFunction('echo', (t) => t.data);
    cleanup.push(() => worker.stop());
    await worker.start();
    const client = new Client({ redis });
    cleanup.push(() => client.close());

    const ran = await Promise.all(Array.from({ length: 9 }, (_, i) => client.submit('echo', i)));
    for (const id of ran) await client.wait(id, { timeout: 10_000 });
    const waiting = await Promise.all(Array.from({ length: 12 }, (_, i) => client.submit('nobody', i, { group: `g${i}` })));
    expect(new Set(waiting.map((id) => partitionOf(id, 3))).size).toBe(3);

    // (the monitor cleans up the ended ones: compared once it has, so that no sweep runs between the two reads)
    await until(async () => (await client.stats()).tasks === 0, 'the ended tasks cleaned up');
    const status = await client.stats();
    const m = readExposition(await (await fetch(monitor.metricsUrl!)).text());
    expect(m.value('task_swarm_monitor_swarm_read_failures_total')).toBe(0);
    expect(m.value('task_swarm_queue_depth', { function: 'nobody' })).toBe(12);
    expect(status.functions.nobody!.queued).toBe(12);
    expect(m.value('task_swarm_function_workers', { function: 'echo' })).toBe(1);
    expect(m.value('task_swarm_workers')).toBe(status.workers);
    expect(m.value('task_swarm_tasks_claimed')).toBe(status.tasks);
    expect(m.value('task_swarm_queue_entries')).toBe(status.queued);
    expect(m.value('task_swarm_lease_oldest_age_seconds')).toBe(0);
    // (the worker counts an END when Redis's reply reaches it, maybe after the client saw it)
    await until(async () => readExposition(await worker.metrics()).value('task_swarm_worker_tasks_ended_total', { function: 'echo', outcome: 'succeeded' }) === 9, 'nine ENDs counted');
  });
});
