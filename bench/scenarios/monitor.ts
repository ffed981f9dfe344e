/**
 * Scenario 5, monitor scale (Task Swarm only): Redis is filled directly, in the layout
 * claim.lua writes (task hash, `tasks` set, `tasks:leases` zset), with `tasks` RUNNING tasks
 * whose leases are fresh (none stale) or of which 1% are older than taskTimeout. One monitor
 * pass = requeueStale (requeue.lua) + reapEnded (reap.lua) from src/effects/sweep.ts, with the
 * Monitor's batch size (1000) and a connection made as the Monitor makes it. Timed from the
 * bench process (round trips included); the stale case is refilled before every pass.
 */
import type { Redis } from 'ioredis';
import { resolveRedisConfig } from '../../src/config.js';
import { buildKeys, type Keys } from '../../src/keys.js';
import { connect } from '../../src/redis.js';
import { reapEnded, requeueStale } from '../../src/effects/sweep.js';
import { resetRedis, usedMemory } from '../lib/redis.js';
import { median, nowMs, round } from '../lib/timing.js';
import { timeLeft, type Ctx } from '../lib/context.js';

const TASK_TIMEOUT = 30_000;
const SWEEP_BATCH = 1000; // src/monitor.ts
const MAX_ATTEMPTS = 5;
const RETENTION = 3_600_000;
const WORKER = '127.0.0.1:6001';

export interface MonitorCase {
  stalePct: number;
  stale: number;
  passes: number[];
  /** median ms of one pass */
  ms: number | null;
  requeuedPerPass: number;
}
export interface MonitorResult {
  tasks: number;
  memPerRunningTask: number;
  fillMs: number;
  cases: MonitorCase[];
}

async function redisNow(r: Redis): Promise<number> {
  const [s, us] = await r.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

function writeTask(p: ReturnType<Redis['pipeline']>, keys: Keys, id: string, at: number) {
  const raw = JSON.stringify({ id, function: 'noop', data: { i: id } });
  p.hset(keys.task(id), 'state', 'RUNNING', 'start', at, 'update', at, 'worker', WORKER, 'data', raw, 'lease', `1:${WORKER}`, 'function', 'noop', 'attempt', 1, 'claims', 1);
  p.sadd(keys.taskSet, id);
  p.zadd(keys.leases, at, id);
}

async function fill(r: Redis, keys: Keys, n: number, staleIds: Set<string>, now: number) {
  for (let i = 0; i < n; ) {
    const p = r.pipeline();
    for (let j = 0; j < 5000 && i < n; j++, i++) {
      const id = `t${i}`;
      writeTask(p, keys, id, staleIds.has(id) ? now - 2 * TASK_TIMEOUT : now);
    }
    await p.exec();
  }
}

export async function monitorScale(ctx: Ctx, opts: { tasks: number; repeats: number }): Promise<MonitorResult> {
  if (timeLeft(ctx) < 8_000) throw new Error('skipped: out of time budget');
  const config = resolveRedisConfig({ host: ctx.addr.host, port: ctx.addr.port });
  const keys = buildKeys(config);
  const admin = ctx.redis.admin;
  const conn = connect(config, 'command', 'bench-monitor');
  await conn.connect();
  const cases: MonitorCase[] = [];
  let memPerRunningTask = 0;
  let fillMs = 0;
  try {
    for (const stalePct of [0, 1]) {
      await resetRedis(admin);
      const stale = Math.round((opts.tasks * stalePct) / 100);
      const staleIds = new Set<string>();
      for (let i = 0; staleIds.size < stale; i += Math.floor(opts.tasks / Math.max(1, stale))) staleIds.add(`t${i}`);
      const m0 = await usedMemory(admin);
      const f0 = nowMs();
      await fill(admin, keys, opts.tasks, staleIds, await redisNow(admin));
      if (stalePct === 0) {
        fillMs = round(nowMs() - f0, 0);
        memPerRunningTask = round(((await usedMemory(admin)) - m0) / opts.tasks, 0);
      }
      const pass = async () => {
        const t0 = nowMs();
        const r = await requeueStale(conn, keys, TASK_TIMEOUT, SWEEP_BATCH, MAX_ATTEMPTS, 'bench-monitor');
        await reapEnded(conn, keys, RETENTION, SWEEP_BATCH);
        return { ms: nowMs() - t0, requeued: r.requeued.length };
      };
      const c: MonitorCase = { stalePct, stale, passes: [], ms: null, requeuedPerPass: 0 };
      // one untimed pass first when nothing is stale: it loads the scripts (EVAL once per connection)
      if (stale === 0) await pass();
      else {
        const warm = await pass();
        if (warm.requeued !== stale) throw new Error(`expected ${stale} requeued, got ${warm.requeued}`);
      }
      for (let i = 0; i < opts.repeats; i++) {
        if (stale > 0) {
          // put the requeued tasks back to RUNNING with old leases
          await admin.del(keys.newQueue);
          const p = admin.pipeline();
          const old = (await redisNow(admin)) - 2 * TASK_TIMEOUT;
          for (const id of staleIds) {
            p.hdel(keys.task(id), 'history');
            writeTask(p, keys, id, old);
          }
          await p.exec();
        }
        const r = await pass();
        c.passes.push(round(r.ms, 3));
        c.requeuedPerPass = r.requeued;
      }
      c.ms = round(median(c.passes), 3);
      cases.push(c);
      ctx.log(`  ${opts.tasks} running, ${stale} stale: pass ${c.ms} ms (median of ${c.passes.length}: ${c.passes.join(', ')}), requeued ${c.requeuedPerPass}`);
    }
  } finally {
    conn.disconnect();
    await resetRedis(admin);
  }
  return { tasks: opts.tasks, memPerRunningTask, fillMs, cases };
}
