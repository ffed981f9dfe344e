/**
 * Profile of Task Swarm's worker: one worker child run with `node --cpu-prof`, concurrency 10,
 * draining N queued tasks (as in the throughput scenario, after a warm-up). The profile is
 * summarised for the samples inside the timed drain only: self time per function and per
 * package, and the inclusive share of xstate and ioredis frames.
 */
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnChildren, type WorkerChild } from '../lib/children.js';
import { summariseProfile, type ProfileSummary } from '../lib/cpuprofile.js';
import { round } from '../lib/timing.js';
import { timeLeft, type Ctx } from '../lib/context.js';
import { runOne } from './throughput.js';

export interface ProfileResult {
  lib: 'task-swarm';
  concurrency: number;
  n: number;
  rate: number;
  file: string;
  summary: ProfileSummary;
}

const DIR = fileURLToPath(new URL('../results/profile/', import.meta.url));

export async function profile(ctx: Ctx, opts: { n: number; concurrency: number }): Promise<ProfileResult> {
  if (timeLeft(ctx) < 15_000) throw new Error('skipped: out of time budget');
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  let kids: WorkerChild[] = [];
  let run: Awaited<ReturnType<typeof runOne>>;
  try {
    kids = await spawnChildren('task-swarm', 1, ['--cpu-prof', `--cpu-prof-dir=${DIR}`]);
    await runOne(ctx, 'task-swarm', kids, 'e2e', opts.concurrency, 2000);
    run = await runOne(ctx, 'task-swarm', kids, 'drain', opts.concurrency, opts.n);
  } finally {
    await Promise.allSettled(kids.map((k) => k.exit(10_000)));
  }
  // --cpu-prof also profiles tsx's loader thread: the worker's profile is the largest file.
  const files = readdirSync(DIR)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(DIR, f))
    .sort((a, b) => statSync(b).size - statSync(a).size);
  if (!files[0]) throw new Error('no .cpuprofile written');
  const summary = summariseProfile(files[0], { fromUs: run.t0 * 1000, toUs: run.t1 * 1000 });
  ctx.log(`  Task Swarm c${opts.concurrency} drain under --cpu-prof: ${run.rate} tasks/s; busy ${summary.busyMs} ms, idle ${summary.idleMs} ms (window: ${summary.windowed})`);
  for (const e of summary.top.slice(0, 12)) ctx.log(`    ${String(e.pct).padStart(5)}%  ${e.name}  ${e.where}`);
  ctx.log(`  by package: ${summary.byPackage.map((p) => `${p.name} ${p.pct}%`).join(', ')}`);
  ctx.log(`  inclusive: ${summary.inclusive.map((p) => `${p.name} ${p.pct}%`).join(', ')}`);
  return {
    lib: 'task-swarm',
    concurrency: opts.concurrency,
    n: opts.n,
    rate: round(run.rate, 0),
    file: `bench/results/profile/${files[0].split('/').pop()}`,
    summary,
  };
}
