/**
 * Scenario 2, pickup latency: one worker child at concurrency 1, idle (blocked on Redis);
 * the bench submits one `probe` task, the task function reports its start over IPC with a
 * CLOCK_MONOTONIC stamp; latency = function start - moment before the submit call. The bench
 * then waits for the completion to be recorded and 5 ms more, so every task meets an idle
 * worker. `count` tasks per repeat, after one unrecorded run of `warmup`; p50/p90/p99 per
 * repeat, median over repeats (repeats interleaved across libraries).
 */
import { LIBS, LIB_LABEL, completedCount, createProducer, type LibName } from '../lib/libs.js';
import { WorkerChild, spawnChildren } from '../lib/children.js';
import { resetRedis } from '../lib/redis.js';
import { hrToMs, median, nowMs, percentile, round, sleep, until } from '../lib/timing.js';
import { check, timeLeft, type Ctx } from '../lib/context.js';

export interface LatencyRun {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}
export interface LatencyCell {
  lib: LibName;
  count: number;
  runs: LatencyRun[];
  /** median over runs of each statistic, ms */
  p50: number | null;
  p90: number | null;
  p99: number | null;
  errors: string[];
}

const IDLE_GAP_MS = 5;

async function runOnce(ctx: Ctx, lib: LibName, kid: WorkerChild, count: number): Promise<LatencyRun> {
  await resetRedis(ctx.redis.admin);
  const producer = await createProducer(lib, ctx.addr);
  const samples: number[] = [];
  try {
    await kid.start({ lib, redis: ctx.addr, concurrency: 1 });
    await sleep(50);
    for (let i = 0; i < count; i++) {
      let id = '';
      const started = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => {
          off();
          reject(new Error(`${lib}: task ${i} did not start within 5 s`));
        }, 5000);
        const off = kid.on((m) => {
          if (m.type === 'started' && m.t && (id === '' || m.id === id)) {
            clearTimeout(timer);
            off();
            resolve(hrToMs(m.t));
          }
        });
      });
      const t0 = nowMs();
      id = await producer.submit('probe', i);
      const t1 = await started;
      samples.push(t1 - t0);
      await until(async () => (await completedCount(lib, ctx.poll)) >= i + 1, 5000, `${lib}: completion of task ${i}`, 1, () => ctx.cancelled);
      await sleep(IDLE_GAP_MS);
    }
  } finally {
    await kid.stop().catch(() => {});
    await producer.close();
  }
  const r = (x: number) => round(x, 3);
  return {
    p50: r(percentile(samples, 50)),
    p90: r(percentile(samples, 90)),
    p99: r(percentile(samples, 99)),
    max: r(Math.max(...samples)),
    mean: r(samples.reduce((a, b) => a + b, 0) / samples.length),
  };
}

export async function latency(ctx: Ctx, opts: { count: number; repeats: number; warmup: number }): Promise<{ cells: LatencyCell[] }> {
  const cells: LatencyCell[] = LIBS.map((lib) => ({ lib, count: opts.count, runs: [], p50: null, p90: null, p99: null, errors: [] }));
  const kids = new Map<LibName, WorkerChild>();
  try {
    for (const lib of LIBS) kids.set(lib, (await spawnChildren(lib, 1))[0]!);
    // an unrecorded run first, so that no library's repeats start with a process that has not
    // yet run its pickup path (as bench/run.ts's throughput warm-up)
    for (const lib of LIBS) {
      if (opts.warmup <= 0) break;
      try {
        await runOnce(ctx, lib, kids.get(lib)!, opts.warmup);
      } catch (e) {
        check(ctx);
        ctx.log(`  ${LIB_LABEL[lib]} warm-up FAILED: ${(e as Error).message}`);
        kids.get(lib)!.kill();
        kids.set(lib, (await spawnChildren(lib, 1))[0]!);
      }
    }
    // repeats interleaved across libraries, so that load on the machine hits all alike
    for (let r = 0; r < opts.repeats; r++) {
      for (const cell of cells) {
        const lib = cell.lib;
        if (timeLeft(ctx) < 8_000) {
          cell.errors.push(`run ${r + 1} skipped: out of time budget`);
          ctx.log(`  ${LIB_LABEL[cell.lib]} run ${r + 1} skipped: out of time budget`);
          continue;
        }
        try {
          const run = await runOnce(ctx, lib, kids.get(lib)!, opts.count);
          cell.runs.push(run);
          ctx.log(`  ${LIB_LABEL[lib].padEnd(10)} run ${r + 1}: p50 ${run.p50} ms, p90 ${run.p90} ms, p99 ${run.p99} ms, max ${run.max} ms`);
        } catch (e) {
          check(ctx);
          cell.errors.push(`run ${r + 1}: ${(e as Error).message}`);
          ctx.log(`  ${LIB_LABEL[lib]} run ${r + 1} FAILED: ${(e as Error).message}`);
          kids.get(lib)!.kill();
          kids.set(lib, (await spawnChildren(lib, 1))[0]!);
        }
      }
    }
  } finally {
    await Promise.allSettled([...kids.values()].map((k) => k.exit(3000)));
  }
  for (const cell of cells) {
    if (!cell.runs.length) continue;
    cell.p50 = round(median(cell.runs.map((x) => x.p50)), 3);
    cell.p90 = round(median(cell.runs.map((x) => x.p90)), 3);
    cell.p99 = round(median(cell.runs.map((x) => x.p99)), 3);
  }
  return { cells };
}
