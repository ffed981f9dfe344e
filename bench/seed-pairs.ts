/**
 * The seed path, commit against commit: runs bench/seed-drain.ts against checkout A and
 * checkout B as whole processes, alternating (A then B, then B then A, ...), on one private
 * redis-server, and prints per configuration the median of the per-pair ratios B / A of the
 * drain rate and of the whole process's wall time, with their spread, and Redis's own µs per
 * task (commandstats, less noisy than wall time on a shared machine).
 *
 *   node --import tsx bench/seed-pairs.ts <dir A> <dir B> [--pairs=10] [--n=20000] [--concurrency=1,10] [--entry=dist/src/index.js] [--functions=4]
 *
 * Each checkout needs its own node_modules (`npm ci`); e.g. the base of issue 9:
 * `git worktree add --detach ../base 439d9af && (cd ../base && npm ci)`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, spawnRedis } from '../tools/redis-process.js';
import { runMain } from './lib/run-main.js';

const [a, b, ...rest] = process.argv.slice(2);
if (!a || !b) {
  console.error('usage: seed-pairs.ts <dir A> <dir B> [--pairs=10] [--n=20000] [--concurrency=1,10]');
  process.exit(2);
}
const opt = new Map(rest.map((x) => x.replace(/^--/, '').split('=') as [string, string]));
const pairs = Number(opt.get('pairs') ?? 10);
const n = Number(opt.get('n') ?? 20_000);
const concurrencies = (opt.get('concurrency') ?? '1,10').split(',').map(Number);
const drain = fileURLToPath(new URL('./seed-drain.ts', import.meta.url));
// --entry=dist/src/index.js: each checkout's build (npm run build in each first), as the bench runs it
const entry = opt.has('entry') ? [`--entry=${opt.get('entry')}`] : [];
const functions = opt.has('functions') ? [`--functions=${opt.get('functions')}`] : [];

interface Run {
  rate: number;
  drainMs: number;
  wallMs: number;
  redisScriptUsPerTask: number;
  redisCpuUsPerTask: number;
  workerCpuUsPerTask: number;
}

function runOnce(dir: string, port: number, c: number): Run {
  const t0 = performance.now();
  const out = execFileSync(process.execPath, ['--import', 'tsx', drain, dir, `--port=${port}`, `--n=${n}`, `--concurrency=${c}`, ...entry, ...functions], { encoding: 'utf8', cwd: fileURLToPath(new URL('../', import.meta.url)) });
  const wallMs = performance.now() - t0;
  const r = JSON.parse(out.trim().split('\n').at(-1)!) as Run;
  return { ...r, wallMs };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const r3 = (x: number) => Math.round(x * 1000) / 1000;

async function main() {
  const port = await freePort();
  const tmp = mkdtempSync(join(tmpdir(), 'seed-pairs-'));
  const redis = await spawnRedis({ port, dir: tmp });
  const result: Record<string, unknown> = { a: resolve(a!), b: resolve(b!), n, pairs };
  try {
    for (const c of concurrencies) {
      const rows: { a: Run; b: Run }[] = [];
      // one unrecorded run of each first (tsx's transform cache, Redis warm)
      runOnce(a!, port, c);
      runOnce(b!, port, c);
      for (let i = 0; i < pairs; i++) {
        const first = i % 2 === 0;
        const x = first ? runOnce(a!, port, c) : undefined;
        const y = runOnce(b!, port, c);
        const row = { a: x ?? runOnce(a!, port, c), b: y };
        rows.push(row);
        console.error(`c${c} pair ${i + 1}: A ${row.a.rate}/s B ${row.b.rate}/s (B/A ${r3(row.b.rate / row.a.rate)}), wall A ${Math.round(row.a.wallMs)} B ${Math.round(row.b.wallMs)} ms`);
      }
      const rate = rows.map((r) => r.b.rate / r.a.rate);
      const wall = rows.map((r) => r.b.wallMs / r.a.wallMs);
      result[`c${c}`] = {
        rateA: median(rows.map((r) => r.a.rate)),
        rateB: median(rows.map((r) => r.b.rate)),
        rateRatio: { median: r3(median(rate)), min: r3(Math.min(...rate)), max: r3(Math.max(...rate)) },
        wallRatio: { median: r3(median(wall)), min: r3(Math.min(...wall)), max: r3(Math.max(...wall)) },
        redisScriptUsPerTask: { a: median(rows.map((r) => r.a.redisScriptUsPerTask)), b: median(rows.map((r) => r.b.redisScriptUsPerTask)) },
        redisCpuUsPerTask: { a: median(rows.map((r) => r.a.redisCpuUsPerTask)), b: median(rows.map((r) => r.b.redisCpuUsPerTask)) },
        workerCpuUsPerTask: { a: median(rows.map((r) => r.a.workerCpuUsPerTask)), b: median(rows.map((r) => r.b.workerCpuUsPerTask)) },
        rates: rows.map((r) => [r.a.rate, r.b.rate]),
      };
    }
  } finally {
    redis.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  }
  console.log(JSON.stringify(result, null, 2));
}

runMain(main);
