/**
 * Scenario 1, throughput: N no-op tasks,
 *   drain: all N queued first (not timed), then the workers are started; timed from the start
 *          command to the N-th completion recorded in Redis;
 *   e2e:   the workers are started and idle, then the producer submits N (at most 500 in
 *          flight) while they run; timed from the first submit to the N-th completion.
 * Workers run in child processes: 1 process at concurrency 1, 10, 100, and 4 processes at 10.
 * Task Swarm is fed through Client.submit (submit.lua) in both modes; BullMQ through
 * Queue.add, Bee-Queue through Job.save. Each library's children are reused across its
 * repeats (after one unrecorded warm-up run), repeats are interleaved across libraries, and
 * Redis is flushed before every run.
 * The fill of the drain mode also gives Redis memory per queued task (used_memory delta / N).
 */
import { LIBS, LIB_LABEL, completedCount, createProducer, submitMany, type LibName } from '../lib/libs.js';
import { killAll, spawnChildren, type WorkerChild } from '../lib/children.js';
import { info, resetRedis, usedMemory } from '../lib/redis.js';
import type { Redis } from 'ioredis';
import { median, nowMs, round, until } from '../lib/timing.js';
import { check, timeLeft, type Ctx } from '../lib/context.js';

export type Mode = 'drain' | 'e2e';
export interface Config {
  procs: number;
  concurrency: number;
}
export const CONFIGS: Config[] = [
  { procs: 1, concurrency: 1 },
  { procs: 1, concurrency: 10 },
  { procs: 1, concurrency: 100 },
  { procs: 4, concurrency: 10 },
];
export const configLabel = (c: Config) => (c.procs === 1 ? `c${c.concurrency}` : `${c.procs}x c${c.concurrency}`);

export interface Run {
  ms: number;
  rate: number;
  /** drain only: time to queue the N tasks, and Redis memory per queued task */
  fillMs?: number;
  memPerTask?: number;
  /** redis-server CPU time (user + sys) during the timed part, per task */
  redisCpuUs: number;
  /** CPU time of the worker processes (user + sys, all of them) from their start to the last completion, per task */
  workerCpuUs: number;
}

export interface Cell {
  lib: LibName;
  mode: Mode;
  config: string;
  procs: number;
  concurrency: number;
  n: number;
  runs: Run[];
  /** median tasks/s over the runs */
  rate: number | null;
  /** median redis-server CPU µs per task */
  redisCpuUs: number | null;
  /** median worker-process CPU µs per task */
  workerCpuUs: number | null;
  errors: string[];
}

export interface ThroughputResult {
  n: number;
  repeats: number;
  cells: Cell[];
  /** median bytes of Redis memory per queued task, over every drain fill */
  memoryPerQueuedTask: Record<LibName, number | null>;
  submitRate: Record<LibName, number | null>;
}

/** per-run limit: no library here is slower than this many tasks/s on this machine */
const MIN_RATE = 250;

async function redisCpuUs(r: Redis): Promise<number> {
  const c = await info(r, 'cpu');
  return (Number(c.used_cpu_user) + Number(c.used_cpu_sys)) * 1e6;
}

async function workersCpu(kids: WorkerChild[]): Promise<number> {
  return (await Promise.all(kids.map((k) => k.cpu()))).reduce((a, b) => a + b, 0);
}

/** one measured run; `t0`/`t1` (monotonic ms) bound the timed part */
export async function runOne(ctx: Ctx, lib: LibName, kids: WorkerChild[], mode: Mode, concurrency: number, n: number): Promise<Run & { t0: number; t1: number }> {
  await resetRedis(ctx.redis.admin);
  const producer = await createProducer(lib, ctx.addr);
  const limit = 10_000 + (n / MIN_RATE) * 1000;
  const done = () => until(async () => (await completedCount(lib, ctx.poll)) >= n, limit, `${lib} ${mode} ${n} tasks`, 5, () => ctx.cancelled);
  const spec = { lib, redis: ctx.addr, concurrency };
  try {
    if (mode === 'drain') {
      const m0 = await usedMemory(ctx.redis.admin);
      const f0 = nowMs();
      await submitMany(producer, 'noop', n);
      const fillMs = nowMs() - f0;
      const m1 = await usedMemory(ctx.redis.admin);
      const w0 = await workersCpu(kids);
      const cpu0 = await redisCpuUs(ctx.redis.admin);
      const t0 = nowMs();
      await Promise.all(kids.map((k) => k.start(spec)));
      await done();
      const t1 = nowMs();
      const cpu = (await redisCpuUs(ctx.redis.admin)) - cpu0;
      const w = (await workersCpu(kids)) - w0;
      const ms = t1 - t0;
      return {
        ms: round(ms, 1),
        rate: round((n * 1000) / ms, 0),
        fillMs: round(fillMs, 1),
        memPerTask: round((m1 - m0) / n, 0),
        redisCpuUs: round(cpu / n, 1),
        workerCpuUs: round(w / n, 1),
        t0,
        t1,
      };
    }
    await Promise.all(kids.map((k) => k.start(spec)));
    const w0 = await workersCpu(kids);
    const cpu0 = await redisCpuUs(ctx.redis.admin);
    const t0 = nowMs();
    const submitted = submitMany(producer, 'noop', n);
    await done();
    await submitted;
    const t1 = nowMs();
    const cpu = (await redisCpuUs(ctx.redis.admin)) - cpu0;
    const w = (await workersCpu(kids)) - w0;
    const ms = t1 - t0;
    return { ms: round(ms, 1), rate: round((n * 1000) / ms, 0), redisCpuUs: round(cpu / n, 1), workerCpuUs: round(w / n, 1), t0, t1 };
  } finally {
    await Promise.allSettled(kids.map((k) => k.stop()));
    await producer.close();
  }
}

export async function throughput(ctx: Ctx, opts: { n: number; repeats: number; warmup: number }): Promise<ThroughputResult> {
  const cells: Cell[] = [];
  const mem: Record<LibName, number[]> = { 'task-swarm': [], bullmq: [], 'bee-queue': [] };
  const fill: Record<LibName, number[]> = { 'task-swarm': [], bullmq: [], 'bee-queue': [] };
  const key = (lib: LibName, config: Config) => `${lib} ${configLabel(config)}`;
  for (const config of CONFIGS) {
    for (const lib of LIBS) {
      for (const mode of ['drain', 'e2e'] as Mode[]) {
        cells.push({ lib, mode, config: configLabel(config), procs: config.procs, concurrency: config.concurrency, n: opts.n, runs: [], rate: null, redisCpuUs: null, workerCpuUs: null, errors: [] });
      }
    }
  }
  // One setup at a time: its worker children of every library start and warm up, then its
  // repeats run interleaved across the libraries (repeat 1 of each cell, then repeat 2, ...),
  // so that load on the machine spreads over all libraries alike. A child left idle while
  // other setups ran came back partly cold (V8 drops code it has not run for a while: one
  // process read 37 µs of worker CPU per task before 40 s idle and 68 after), which made every
  // setup's first repeat a measure of how fast a library recompiles.
  const kids = new Map<string, WorkerChild[]>();
  const respawn = async (lib: LibName, config: Config) => {
    killAll(kids.get(key(lib, config)) ?? []);
    kids.set(key(lib, config), await spawnChildren(lib, config.procs));
  };
  try {
    for (const config of CONFIGS) {
      for (const lib of LIBS) {
        check(ctx);
        await respawn(lib, config);
        if (opts.warmup > 0) {
          try {
            // (opts.warmup tasks for each worker process of the setup, half of them drained and
            // half end to end: each mode's path is compiled before it is measured)
            for (const mode of ['drain', 'e2e'] as Mode[]) await runOne(ctx, lib, kids.get(key(lib, config))!, mode, config.concurrency, (opts.warmup / 2) * config.procs);
          } catch (e) {
            ctx.log(`  ${LIB_LABEL[lib]} ${configLabel(config)} warm-up FAILED: ${(e as Error).message}`);
            await respawn(lib, config);
          }
        }
      }
      for (let r = 0; r < opts.repeats; r++) {
        for (const mode of ['drain', 'e2e'] as Mode[]) {
          for (const lib of LIBS) {
            const cell = cells.find((c) => c.lib === lib && c.mode === mode && c.config === configLabel(config))!;
            if (timeLeft(ctx) < 8_000) {
              cell.errors.push(`run ${r + 1} skipped: out of time budget`);
              ctx.log(`  ${LIB_LABEL[cell.lib]} run ${r + 1} skipped: out of time budget`);
              continue;
            }
            try {
              const { t0: _t0, t1: _t1, ...run } = await runOne(ctx, lib, kids.get(key(lib, config))!, mode, config.concurrency, opts.n);
              cell.runs.push(run);
              if (run.memPerTask !== undefined) mem[lib].push(run.memPerTask);
              if (run.fillMs !== undefined) fill[lib].push((opts.n * 1000) / run.fillMs);
              ctx.log(`  ${LIB_LABEL[lib].padEnd(10)} ${mode.padEnd(5)} ${cell.config.padEnd(8)} run ${r + 1}: ${run.rate} tasks/s (${run.ms} ms; CPU per task: workers ${run.workerCpuUs} µs, Redis ${run.redisCpuUs} µs)`);
            } catch (e) {
              check(ctx);
              cell.errors.push(`run ${r + 1}: ${(e as Error).message}`);
              ctx.log(`  ${LIB_LABEL[lib]} ${mode} ${cell.config} run ${r + 1} FAILED: ${(e as Error).message}`);
              // a run that hung leaves its children in an unknown state: replace them
              await respawn(lib, config);
            }
          }
        }
      }
      // (this setup's children are done: the next setup's run without them)
      await Promise.allSettled(LIBS.flatMap((lib) => kids.get(key(lib, config)) ?? []).map((k) => k.exit(3000)));
    }
  } finally {
    await Promise.allSettled([...kids.values()].flat().map((k) => k.exit(3000)));
  }
  for (const c of cells) {
    c.rate = c.runs.length ? median(c.runs.map((r) => r.rate)) : null;
    c.redisCpuUs = c.runs.length ? round(median(c.runs.map((r) => r.redisCpuUs)), 1) : null;
    c.workerCpuUs = c.runs.length ? round(median(c.runs.map((r) => r.workerCpuUs)), 1) : null;
  }
  const med = (xs: number[]) => (xs.length ? round(median(xs), 0) : null);
  return {
    n: opts.n,
    repeats: opts.repeats,
    cells,
    memoryPerQueuedTask: { 'task-swarm': med(mem['task-swarm']), bullmq: med(mem.bullmq), 'bee-queue': med(mem['bee-queue']) },
    submitRate: { 'task-swarm': med(fill['task-swarm']), bullmq: med(fill.bullmq), 'bee-queue': med(fill['bee-queue']) },
  };
}
