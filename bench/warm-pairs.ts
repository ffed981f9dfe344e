/**
 * Setups side by side, warm, alternated: the comparison behind a claim about a change to the
 * worker, on a machine whose speed drifts by more than the change. Each setup gets its own worker
 * children (bench/lib/children.ts, as the bench's throughput scenario), warmed on `--warm` tasks
 * per process (half drained, half end to end: V8 compiles the per-claim code late, and the first
 * tens of thousands of tasks cost two to three times the steady CPU); then rounds run every setup
 * once each, in turn, the order reversed every other round (A B C, C B A, ...), each a run of the
 * throughput scenario (`runOne`) on one private redis-server. Prints every run, then per setup and
 * mode the medians and the median of its per-round rate ratios against the first setup, with
 * their range.
 *
 *   node --import tsx bench/warm-pairs.ts [--procs=1] [--concurrency=10] [--modes=drain,e2e] [--rounds=6] [--n=20000] [--warm=40000] SETUP...
 *
 * A setup is a library (`task-swarm`, `bullmq`, `bee-queue`), for Task Swarm optionally with
 * `@<checkout dir>` (another checkout, built, whose node_modules resolve: e.g. a
 * `git worktree add --detach ../base <commit>` with `npm run build` and a link to this
 * node_modules), e.g. `task-swarm task-swarm@../base bullmq`. Build this checkout first
 * (`npm run build`). Not part of `npm run bench`.
 */
import { resolve } from 'node:path';
import { startRedis } from './lib/redis.js';
import { spawnChildren, type WorkerChild } from './lib/children.js';
import { runOne, type Mode } from './scenarios/throughput.js';
import type { Ctx } from './lib/context.js';
import { LIBS, type LibName } from './lib/libs.js';
import { median, round } from './lib/timing.js';

const args = process.argv.slice(2);
const opt = new Map(args.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=') as [string, string]));
const setups = args.filter((a) => !a.startsWith('--'));
const procs = Number(opt.get('procs') ?? 1);
const concurrency = Number(opt.get('concurrency') ?? 10);
const rounds = Number(opt.get('rounds') ?? 6);
const n = Number(opt.get('n') ?? 20_000);
const warm = Number(opt.get('warm') ?? 40_000);
const modes = (opt.get('modes') ?? 'drain,e2e').split(',') as Mode[];
if (setups.length === 0 || modes.some((m) => m !== 'drain' && m !== 'e2e')) {
  console.error('usage: warm-pairs.ts [--procs=1] [--concurrency=10] [--modes=drain,e2e] [--rounds=6] [--n=20000] [--warm=40000] SETUP... (task-swarm[@dir], bullmq, bee-queue)');
  process.exit(2);
}

interface Setup {
  name: string;
  lib: LibName;
  kids: WorkerChild[];
}

async function spawnSetup(name: string): Promise<Setup> {
  const [lib, checkout] = name.split('@') as [LibName, string | undefined];
  if (!LIBS.includes(lib) || (checkout && lib !== 'task-swarm')) throw new Error(`warm-pairs: no setup "${name}" (task-swarm[@dir], bullmq, bee-queue)`);
  // (the children inherit the environment they are forked with: bench/lib/task-swarm.ts reads it)
  const before = process.env.TASK_SWARM_BENCH_CHECKOUT;
  if (checkout) process.env.TASK_SWARM_BENCH_CHECKOUT = resolve(checkout);
  else delete process.env.TASK_SWARM_BENCH_CHECKOUT;
  try {
    return { name, lib, kids: await spawnChildren(lib, procs) };
  } finally {
    if (before === undefined) delete process.env.TASK_SWARM_BENCH_CHECKOUT;
    else process.env.TASK_SWARM_BENCH_CHECKOUT = before;
  }
}

async function main() {
  const redis = await startRedis();
  const ctx: Ctx = { redis, addr: { host: redis.host, port: redis.port }, poll: redis.connection('bench-poll'), deadline: Infinity, cancelled: false, log: (m) => console.log(m) };
  const all: Setup[] = [];
  try {
    for (const name of setups) all.push(await spawnSetup(name));
    for (const s of all) for (const mode of ['drain', 'e2e'] as Mode[]) await runOne(ctx, s.lib, s.kids, mode, concurrency, (warm / 2) * procs);
    const runs = new Map<string, { rate: number; worker: number; redis: number }[]>();
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 ? [...all].reverse() : all;
      for (const mode of modes) {
        for (const s of order) {
          const run = await runOne(ctx, s.lib, s.kids, mode, concurrency, n);
          const key = `${s.name} ${mode}`;
          runs.set(key, [...(runs.get(key) ?? []), { rate: run.rate, worker: run.workerCpuUs, redis: run.redisCpuUs }]);
          console.log(`round ${r + 1} ${key}: ${run.rate} tasks/s; CPU per task: workers ${run.workerCpuUs} µs, Redis ${run.redisCpuUs} µs`);
        }
      }
    }
    console.log(`\n${procs} x concurrency ${concurrency}, ${rounds} rounds of ${n} tasks; ratios of rates against ${all[0]!.name}, round by round:`);
    for (const mode of modes) {
      const base = runs.get(`${all[0]!.name} ${mode}`)!;
      for (const s of all) {
        const xs = runs.get(`${s.name} ${mode}`)!;
        const ratios = xs.map((x, i) => x.rate / base[i]!.rate);
        console.log(
          `${mode.padEnd(5)} ${s.name.padEnd(24)} ${String(round(median(xs.map((x) => x.rate)), 0)).padStart(7)} tasks/s  workers ${round(median(xs.map((x) => x.worker)), 1)} µs  Redis ${round(median(xs.map((x) => x.redis)), 1)} µs  ratio ${round(median(ratios), 3)} (${round(Math.min(...ratios), 2)}-${round(Math.max(...ratios), 2)})`,
        );
      }
    }
  } finally {
    await Promise.allSettled(all.flatMap((s) => s.kids.map((k) => k.exit(3000))));
    await redis.stop();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error((e as Error).message);
    process.exit(1);
  },
);
