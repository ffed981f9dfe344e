/**
 * The seed path's cost in redis-server instructions (deterministic, unlike time on a shared
 * machine): bench/seed-drain.ts against each checkout, on a redis-server run under
 * `valgrind --tool=callgrind`, once filling and draining and once filling only; the difference
 * over n is the instructions Redis spends per drained task (claim and finish scripts, replies,
 * event loop). Needs valgrind.
 *
 *   node --import tsx bench/seed-instructions.ts <dir> [<dir> ...] [--n=2000] [--concurrency=1,10] [--functions=1] [--drain=bench/redis-floor.ts] [--fcall-only]
 *
 * --fcall-only: callgrind collects inside FCALL only (the scripts, not the polls, replies and event
 * loop around them): the whole server's count moves by a few thousand a task with the machine's
 * speed (more polls on a slow hour), this one repeats within about 0.5k (bench/analysis.md,
 * thirty-sixth session).
 *
 * Any other --option is handed to both runs of the drain script as it is, and shown in each row
 * (bench/peer-drain.ts's --lib=bullmq|bee-queue, seed-drain's --entry).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { freePort } from '../tools/redis-process.js';
import { runMain } from './lib/run-main.js';

const args = process.argv.slice(2);
const dirs = args.filter((a) => !a.startsWith('--'));
const opt = new Map(args.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=') as [string, string]));
const n = Number(opt.get('n') ?? 2000);
const concurrencies = (opt.get('concurrency') ?? '1,10').split(',').map(Number);
// --drain=<script>: another drain with seed-drain.ts's command line (bench/redis-floor.ts)
const drain = opt.has('drain') ? resolve(opt.get('drain')!) : fileURLToPath(new URL('./seed-drain.ts', import.meta.url));
const OWN = new Set(['n', 'concurrency', 'functions', 'drain', 'fcall-only']);
const fcallOnly = opt.has('fcall-only');
const passed = [...opt].filter(([k]) => !OWN.has(k));
const passedArgs = passed.map(([k, v]) => (v === undefined ? `--${k}` : `--${k}=${v}`));

async function instructions(dir: string, extra: string[]): Promise<number> {
  const port = await freePort();
  const tmp = mkdtempSync(join(tmpdir(), 'seed-instr-'));
  const out = join(tmp, 'callgrind.out');
  const proc = spawn('valgrind', ['--tool=callgrind', ...(fcallOnly ? ['--toggle-collect=fcallCommand', '--collect-atstart=no'] : []), `--callgrind-out-file=${out}`, 'redis-server', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', tmp], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  let admin: Redis | undefined;
  for (let i = 0; !admin; i++) {
    const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => {});
    try {
      await r.connect();
      await r.ping();
      admin = r;
    } catch {
      r.disconnect();
      if (i > 150) {
        proc.kill('SIGKILL');
        throw new Error('redis-server under valgrind did not start');
      }
      await new Promise((res) => setTimeout(res, 200));
    }
  }
  try {
    execFileSync(process.execPath, ['--import', 'tsx', drain, dir, `--port=${port}`, `--n=${n}`, ...extra], { cwd: fileURLToPath(new URL('../', import.meta.url)), stdio: ['ignore', 'ignore', 'inherit'] });
  } finally {
    await admin.shutdown('NOSAVE').catch(() => {});
    admin.disconnect();
    await exited;
  }
  const m = /^(?:summary|totals): (\d+)/m.exec(readFileSync(out, 'utf8'));
  rmSync(tmp, { recursive: true, force: true });
  if (!m) throw new Error('no instruction total in the callgrind output');
  return Number(m[1]);
}

async function main() {
  const rows: Record<string, unknown>[] = [];
  for (const c of concurrencies) {
    for (const dir of dirs) {
      const all = await instructions(dir, [`--concurrency=${c}`, ...(opt.has('functions') ? [`--functions=${opt.get('functions')}`] : []), ...passedArgs]);
      const fill = await instructions(dir, ['--fill-only', ...passedArgs]);
      const row = { dir: resolve(dir), ...Object.fromEntries(passed.map(([k, v]) => [k, v ?? true])), concurrency: c, functions: Number(opt.get('functions') ?? 1), ...(fcallOnly ? { fcallOnly } : {}), n, instructionsPerTask: Math.round((all - fill) / n) };
      console.error(JSON.stringify(row));
      rows.push(row);
    }
  }
  console.log(JSON.stringify(rows, null, 2));
}

runMain(main);
