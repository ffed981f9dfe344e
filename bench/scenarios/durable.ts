/**
 * Scenario 9, `redis.durable` (Task Swarm only): what waiting for a replica's acknowledgement
 * (WAIT after each submit and each END batch) costs, on a primary and a replica of this
 * scenario's own, both on this machine (so the replica's lag is a local round trip; across
 * hosts add the network's). Per setting (durable 0, then 1, alternating over the repeats):
 * submit latency (one `submit` at a time, p50), submit rate (`submitMany` in batches of 100),
 * and the drain rate of one in-process worker at concurrency 10.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Client, Worker } from '../../src/index.js';
import { freePort, spawnRedis } from '../../tools/redis-process.js';
import { check, type Ctx } from '../lib/context.js';
import { median, nowMs, percentile, round, until } from '../lib/timing.js';

export interface DurableRow {
  durable: number;
  /** ms, p50 of one submit at a time (median over repeats) */
  submitP50Ms: number;
  /** tasks/s, submitMany in batches of 100 */
  submitRate: number;
  /** tasks/s, one worker at concurrency 10 */
  drainRate: number;
}
export interface DurableResult {
  tasks: number;
  rows: DurableRow[];
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

async function once(ctx: Ctx, port: number, durable: number, n: number, prefix: string): Promise<Omit<DurableRow, 'durable'>> {
  const redis = { host: '127.0.0.1', port, keyPrefix: prefix, durable };
  const client = new Client({ redis });
  try {
    const one: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t0 = nowMs();
      await client.submit('noop', i);
      one.push(nowMs() - t0);
    }
    check(ctx);
    const s0 = nowMs();
    for (let i = 0; i < n; i += 100) await client.submitMany(Array.from({ length: Math.min(100, n - i) }, (_, j) => ({ fn: 'noop', data: i + j })));
    const submitMs = nowMs() - s0;
    check(ctx);
    const worker = new Worker({ port: 0, redis, concurrency: 10, logger: quiet });
    worker.addTaskFunction('noop', () => null);
    let done = 0;
    const total = n + one.length;
    const admin = new Redis({ port });
    try {
      const d0 = nowMs();
      await worker.start();
      await until(async () => (done = await admin.llen(`${prefix}tasks:ended`)) >= total, 120_000, `durable ${durable}: ${total} tasks ended`, 5, () => ctx.cancelled);
      const drainMs = nowMs() - d0;
      return { submitP50Ms: round(percentile(one, 50), 3), submitRate: round((n * 1000) / submitMs, 0), drainRate: round((done * 1000) / drainMs, 0) };
    } finally {
      await worker.stop();
      admin.disconnect();
    }
  } finally {
    await client.close();
  }
}

export async function durableCost(ctx: Ctx, o: { n: number; repeats: number }): Promise<DurableResult> {
  const dirs = [mkdtempSync(join(tmpdir(), 'bench-durable-')), mkdtempSync(join(tmpdir(), 'bench-durable-'))];
  const primaryPort = await freePort();
  const primary = await spawnRedis({ port: primaryPort, dir: dirs[0]! });
  const replicaPort = await freePort();
  const replica = await spawnRedis({ port: replicaPort, dir: dirs[1]! });
  const r = new Redis({ port: replicaPort });
  try {
    await r.replicaof('127.0.0.1', String(primaryPort));
    await until(async () => (await r.info('replication')).includes('master_link_status:up'), 10_000, 'the replica linked');
    const runs = new Map<number, Omit<DurableRow, 'durable'>[]>([
      [0, []],
      [1, []],
    ]);
    for (let i = 0; i < o.repeats; i++) {
      for (const durable of i % 2 === 0 ? [0, 1] : [1, 0]) {
        check(ctx);
        const row = await once(ctx, primaryPort, durable, o.n, `d${i}-${durable}:`);
        ctx.log(`  durable ${durable} run ${i + 1}: submit p50 ${row.submitP50Ms} ms, submitMany ${row.submitRate}/s, drain c10 ${row.drainRate}/s`);
        runs.get(durable)!.push(row);
      }
    }
    const rows = [...runs].map(([durable, xs]) => ({
      durable,
      submitP50Ms: round(median(xs.map((x) => x.submitP50Ms)), 3),
      submitRate: round(median(xs.map((x) => x.submitRate)), 0),
      drainRate: round(median(xs.map((x) => x.drainRate)), 0),
    }));
    return { tasks: o.n, rows };
  } finally {
    r.disconnect();
    primary.kill('SIGKILL');
    replica.kill('SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}
