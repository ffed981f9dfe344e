/**
 * Scenario 11, Redis Cluster (Task Swarm only): one swarm on one Redis, against the same swarm
 * on a cluster of three primaries of this scenario's own (no replicas), in one slot and spread
 * over three (`partitions: 3`, one per primary). Per layout: submit rate (`submitMany` in
 * batches of 100), the drain rate of one in-process worker at concurrency 10, and each Redis
 * process's CPU per task (INFO's used_cpu_user + used_cpu_sys over the drain): where the work
 * goes. Everything shares this machine's two cores, so the rates show overhead, not scaling;
 * the CPU per node is what the model in docs/benchmarks.md scales from.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Client, Worker } from '../../src/index.js';
import { partitionKeys } from '../../src/partitions.js';
import { resolveRedisConfig, type RedisOptions } from '../../src/config.js';
import { connect } from '../../src/redis.js';
import { freePort, spawnRedis } from '../../tools/redis-process.js';
import { spawnCluster, type ClusterDeployment } from '../../tools/deployments.js';
import { check, type Ctx } from '../lib/context.js';
import { median, nowMs, round, until } from '../lib/timing.js';

export interface ClusterRow {
  layout: 'one Redis' | 'cluster, one slot' | 'cluster, partitions 3';
  /** tasks/s, submitMany in batches of 100 (median over repeats) */
  submitRate: number;
  /** tasks/s, one worker at concurrency 10 */
  drainRate: number;
  /** Redis CPU µs per task over the drain, all nodes together */
  redisUsPerTask: number;
  /** the busiest node's share of it, µs per task: what caps the rate when Redis is the limit */
  busiestUsPerTask: number;
  /** per node (busiest first), µs per task */
  perNodeUs: number[];
}
export interface ClusterResult {
  tasks: number;
  primaries: number;
  rows: ClusterRow[];
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

async function cpuSeconds(ports: number[]): Promise<number[]> {
  return Promise.all(
    ports.map(async (port) => {
      const r = new Redis({ port, lazyConnect: true });
      try {
        await r.connect();
        const info = await r.info('cpu');
        const f = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
        return f('used_cpu_user') + f('used_cpu_sys');
      } finally {
        r.disconnect();
      }
    }),
  );
}

async function once(ctx: Ctx, redis: RedisOptions, ports: number[], n: number): Promise<Omit<ClusterRow, 'layout'>> {
  const client = new Client({ redis });
  const worker = new Worker({ port: 0, redis, concurrency: 10, logger: quiet });
  worker.addTaskFunction('noop', () => null);
  const config = resolveRedisConfig(redis);
  const parts = partitionKeys(config);
  const poll = connect(config, 'command', 'bench-cluster-poll');
  try {
    const s0 = nowMs();
    for (let i = 0; i < n; i += 100) await client.submitMany(Array.from({ length: Math.min(100, n - i) }, (_, j) => ({ fn: 'noop', data: i + j })));
    const submitMs = nowMs() - s0;
    check(ctx);
    const cpu0 = await cpuSeconds(ports);
    const d0 = nowMs();
    await worker.start();
    // ended = the ended lists of every partition (each on the node that serves it)
    const ended = async () => (await Promise.all(parts.map((k) => poll.llen(k.ended)))).reduce((a, b) => a + b, 0);
    await until(async () => (await ended()) >= n, 120_000, `${n} tasks ended`, 5, () => ctx.cancelled);
    const drainMs = nowMs() - d0;
    const cpu1 = await cpuSeconds(ports);
    const perNode = cpu1.map((c, i) => ((c - cpu0[i]!) * 1e6) / n).sort((a, b) => b - a);
    return {
      submitRate: round((n * 1000) / submitMs, 0),
      drainRate: round((n * 1000) / drainMs, 0),
      redisUsPerTask: round(perNode.reduce((a, b) => a + b, 0), 1),
      busiestUsPerTask: round(perNode[0]!, 1),
      perNodeUs: perNode.map((x) => round(x, 1)),
    };
  } finally {
    await worker.stop();
    await client.close();
    poll.disconnect();
  }
}

export async function clusterCost(ctx: Ctx, o: { n: number; repeats: number }): Promise<ClusterResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-cluster-'));
  const singlePort = await freePort();
  const single = await spawnRedis({ port: singlePort, dir });
  let d: ClusterDeployment | undefined;
  try {
    const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
    d = await spawnCluster(dir, ports.slice(0, 3), ports.slice(3), { replicas: 0 });
    const primaries = d.nodes.map((x) => x.port);
    const layouts: { layout: ClusterRow['layout']; redis: (i: number) => RedisOptions; ports: number[] }[] = [
      { layout: 'one Redis', redis: (i) => ({ port: singlePort, keyPrefix: `{c${i}}:` }), ports: [singlePort] },
      { layout: 'cluster, one slot', redis: (i) => ({ cluster: d!.seeds, keyPrefix: `{s${i}}:` }), ports: primaries },
      { layout: 'cluster, partitions 3', redis: (i) => ({ cluster: d!.seeds, keyPrefix: `{p${i}}:`, partitions: 3 }), ports: primaries },
    ];
    const runs = new Map(layouts.map((l) => [l.layout, [] as Omit<ClusterRow, 'layout'>[]]));
    for (let i = 0; i < o.repeats; i++) {
      // the layouts rotate, so that drift on this machine is spread over them
      for (let j = 0; j < layouts.length; j++) {
        const l = layouts[(i + j) % layouts.length]!;
        check(ctx);
        const row = await once(ctx, l.redis(i), l.ports, o.n);
        ctx.log(`  ${l.layout} run ${i + 1}: submitMany ${row.submitRate}/s, drain c10 ${row.drainRate}/s, Redis ${row.redisUsPerTask} µs/task (per node ${row.perNodeUs.join(', ')})`);
        runs.get(l.layout)!.push(row);
      }
      if (nowMs() > ctx.deadline) break;
    }
    const rows = layouts.map(({ layout }) => {
      const xs = runs.get(layout)!;
      const mid = (f: (x: Omit<ClusterRow, 'layout'>) => number, digits: number) => round(median(xs.map(f)), digits);
      return {
        layout,
        submitRate: mid((x) => x.submitRate, 0),
        drainRate: mid((x) => x.drainRate, 0),
        redisUsPerTask: mid((x) => x.redisUsPerTask, 1),
        busiestUsPerTask: mid((x) => x.busiestUsPerTask, 1),
        perNodeUs: xs[0]!.perNodeUs.map((_, k) => mid((x) => x.perNodeUs[k] ?? 0, 1)),
      };
    });
    return { tasks: o.n, primaries: 3, rows };
  } finally {
    single.kill('SIGKILL');
    for (const x of d?.nodes ?? []) await x.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}
