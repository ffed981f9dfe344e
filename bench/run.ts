/**
 * `npm run bench`: Task Swarm vs BullMQ vs Bee-Queue on a private redis-server.
 * Writes bench/results/latest.json, docs/benchmarks.md and docs/benchmarks.svg, prints ratios.
 *
 * Flags (for development; the published numbers come from a plain `npm run bench`):
 *   --only=a,b      run only these scenarios (throughput, latency, failover, cost, monitor, profile,
 *                   order, time, durable, sentinel, cluster); the others' results are carried over from bench/results/latest.json
 *   --order-max=100000  the largest queue the order scenario fills: 10k and 100k by default;
 *                   --order-max=1000000 adds 1M (opt-in: filling 900k more tasks takes 1-2 min
 *                   here, over the scenario's 60 s; its budget grows by 120 s)
 *   --n=20000       tasks per throughput run
 *   --repeats=3     repeats per measurement (median)
 *   --no-write      do not write results or docs
 *   --pin           redis-server on CPU 1, the workers and the producer on CPU 0 (taskset): what
 *                   separate cores would show (implies --no-write: the published run is unpinned)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { startRedis } from './lib/redis.js';
import { nowMs, round, TimeoutError, withTimeout } from './lib/timing.js';
import { killLiveChildren } from './lib/children.js';
import type { Ctx } from './lib/context.js';
import { throughput } from './scenarios/throughput.js';
import { latency } from './scenarios/latency.js';
import { failover } from './scenarios/failover.js';
import { cost } from './scenarios/cost.js';
import { monitorScale } from './scenarios/monitor.js';
import { profile } from './scenarios/profile.js';
import { order } from './scenarios/order.js';
import { time } from './scenarios/time.js';
import { durableCost } from './scenarios/durable.js';
import { sentinelFailover } from './scenarios/sentinel.js';
import { clusterCost } from './scenarios/cluster.js';
import { evaluate, printSummary, writeDocs } from './report.js';
import { runMain } from './lib/run-main.js';

process.env.TASK_SWARM_LOG = 'silent';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k!, v ?? 'true'] as const;
  }),
);
const ALL = ['throughput', 'latency', 'failover', 'cost', 'monitor', 'profile', 'order', 'time', 'durable', 'sentinel', 'cluster'] as const;
const only = new Set(args.get('only')?.split(',') ?? ALL);
/**
 * Tasks per throughput run: 20,000, as the issue asks. The throughput scenario takes about
 * 5 minutes of the whole command's 12 here (its warm-ups about one); its time budget (below) stops it starting new runs
 * on a slower or busier machine, at the cost of repeats, not of the limit.
 */
const N = Number(args.get('n') ?? 20_000);
const REPEATS = Math.max(1, Number(args.get('repeats') ?? 3));
if (args.has('pin')) process.env.TASK_SWARM_BENCH_PIN = '1';
const write = args.get('no-write') === undefined && !args.has('pin');
const ORDER_MAX = Number(args.get('order-max') ?? 100_000);
const ORDER_SIZES = [10_000, 100_000, 1_000_000].filter((s) => s <= ORDER_MAX);
/**
 * Unrecorded warm-up per worker process, in tasks, before the throughput repeats (a drain and
 * an end-to-end run of half this many times the setup's process count each, per library and
 * setup). A worker process's CPU per
 * task keeps falling over its first tens of thousands of tasks, whatever the library (V8
 * compiles and re-compiles the hot paths as their types settle): a warm-up of 500 left the
 * first repeat of every cell cold and its median half-warm. A queue's workers run for hours;
 * the table is of processes past that (bench/analysis.md, "seventh session").
 */
const WARMUP = 40_000;

/**
 * Time budget. The whole command must finish in under 12 minutes. Each scenario gets a budget
 * (it starts no new run past it, so it ends at most one run later) and a hard limit (past it,
 * its worker children are killed and it is reported as incomplete); no scenario starts a run
 * past the global budget.
 */
/** the throughput budget; a larger --n than the default scales it */
const THROUGHPUT_BUDGET_MS = Math.round(400_000 * Math.max(1, N / 20_000));
const GLOBAL_BUDGET_MS = Number(args.get('budget') ?? 675_000 + THROUGHPUT_BUDGET_MS - 360_000);
const BUDGET_MS: Record<(typeof ALL)[number], number> = {
  throughput: THROUGHPUT_BUDGET_MS,
  latency: 55_000,
  failover: 70_000,
  cost: 55_000,
  monitor: 20_000,
  profile: 25_000,
  order: ORDER_MAX >= 1_000_000 ? 180_000 : 60_000,
  time: 75_000,
  durable: 45_000,
  sentinel: 120_000,
  cluster: 60_000,
};
const HARD_EXTRA_MS = 30_000;

const require = createRequire(import.meta.url);

/** the commit measured, and library files that differed from it (others may be editing) */
function gitState(): { commit: string; dirty: string[] } {
  const git = (...a: string[]) => execFileSync('git', a, { cwd: fileURLToPath(new URL('../', import.meta.url)), encoding: 'utf8' }).trim();
  try {
    const dirty = git('status', '--porcelain', '--', 'src', 'machines', 'actors')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(3));
    return { commit: git('rev-parse', '--short', 'HEAD'), dirty };
  } catch {
    return { commit: 'unknown', dirty: [] };
  }
}
const version = (p: string) => (require(`${p}/package.json`) as { version: string }).version;

async function main() {
  const t0 = nowMs();
  const redis = await startRedis();
  const poll = redis.connection('bench-poll');
  const newCtx = (budget: number): Ctx => ({
    redis,
    addr: { host: redis.host, port: redis.port },
    poll,
    deadline: Math.min(nowMs() + budget, t0 + GLOBAL_BUDGET_MS),
    cancelled: false,
    log: (m) => console.log(m),
  });
  const git = gitState();
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memGiB: round(totalmem() / 2 ** 30, 1), node: process.version, platform: process.platform },
    versions: { 'task-swarm': version('../'), bullmq: version('bullmq'), 'bee-queue': version('bee-queue'), redis: redis.version },
    settings: { n: N, repeats: REPEATS, warmup: WARMUP, budgetSeconds: GLOBAL_BUDGET_MS / 1000 },
    git,
  };
  const errors: Record<string, string> = {};
  console.log(`redis-server ${redis.version} on 127.0.0.1:${redis.port}; N=${N}, repeats=${REPEATS}`);
  const run = async <T>(name: (typeof ALL)[number], fn: (ctx: Ctx) => Promise<T>) => {
    if (!only.has(name)) return;
    const s0 = nowMs();
    const ctx = newCtx(BUDGET_MS[name]);
    console.log(`\n== ${name} (budget ${round(Math.max(0, ctx.deadline - s0) / 1000, 0)} s)`);
    const p = fn(ctx);
    try {
      results[name] = await withTimeout(p, Math.max(1000, ctx.deadline - s0) + HARD_EXTRA_MS, name);
    } catch (e) {
      errors[name] = (e as Error).message;
      console.log(`${name} FAILED: ${(e as Error).message}`);
      if (e instanceof TimeoutError) {
        // stop it for real before the next scenario touches Redis
        ctx.cancelled = true;
        killLiveChildren();
        await withTimeout(p, 20_000, `${name} cancellation`).catch(() => {});
        killLiveChildren();
      }
    }
    console.log(`== ${name}: ${round((nowMs() - s0) / 1000, 1)} s`);
  };
  results.loadAverageBefore = loadavg().map((x) => round(x, 2));
  try {
    await run('throughput', (ctx) => throughput(ctx, { n: N, repeats: REPEATS, warmup: WARMUP }));
    await run('latency', (ctx) => latency(ctx, { count: 500, repeats: REPEATS, warmup: 300 }));
    await run('failover', (ctx) => failover(ctx, { lockMs: 2000, repeats: REPEATS }));
    await run('cost', (ctx) => cost(ctx, { n: 2000, repeats: REPEATS }));
    await run('monitor', (ctx) => monitorScale(ctx, { tasks: 100_000, repeats: Math.max(REPEATS, 5) }));
    await run('profile', (ctx) => profile(ctx, { n: N, concurrency: 10 }));
    await run('order', async (ctx) => ({ ...(await order(ctx, { sizes: ORDER_SIZES, claims1: 300, claims10: 200 })), commit: git.commit }));
    await run('time', (ctx) => time(ctx, { bulk: N, repeats: REPEATS, promote: 100_000, late: 2_000, spread: [200, 4_000], retry: N }));
    await run('durable', (ctx) => durableCost(ctx, { n: 5000, repeats: REPEATS }));
    await run('sentinel', (ctx) => sentinelFailover(ctx, { repeats: REPEATS }));
    await run('cluster', (ctx) => clusterCost(ctx, { n: 5000, repeats: REPEATS }));
  } finally {
    killLiveChildren();
    await redis.stop();
  }
  results.loadAverageAfter = loadavg().map((x) => round(x, 2));
  results.errors = errors;
  results.wallSeconds = round((nowMs() - t0) / 1000, 1);
  const verdicts = evaluate(results);
  results.targets = verdicts;
  printSummary(results);
  if (write) {
    const out = fileURLToPath(new URL('./results/latest.json', import.meta.url));
    // a partial run (--only) updates its scenarios and keeps the others' last results, marked
    if (args.has('only') && existsSync(out)) {
      const prev = JSON.parse(readFileSync(out, 'utf8')) as Record<string, any>;
      const carried: Record<string, { date: string; commit: string }> = {};
      for (const name of ALL) {
        if (only.has(name) || prev[name] === undefined) continue;
        results[name] = prev[name];
        carried[name] = prev.carried?.[name] ?? { date: prev.date, commit: prev.git?.commit };
      }
      results.carried = carried;
      results.targets = evaluate(results);
    }
    mkdirSync(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
    writeDocs(results);
    console.log(`\nwrote bench/results/latest.json, docs/benchmarks.md, docs/benchmarks.svg`);
  }
  console.log(`total wall time ${results.wallSeconds} s`);
}

runMain(main);
