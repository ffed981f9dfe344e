/**
 * What a pickup's code costs on a CPU that has been idle: the same small JSON.parse (a task
 * entry's size) timed hot (each right after the last), after 1 ms of sleep, after 5 ms of sleep
 * (the latency scenario's quiet before each task), and after 5 ms of busy waiting (the CPU never
 * idles, and this process touches almost nothing meanwhile). No Redis, no library code.
 *
 * Why: every stage of an idle worker's pickup costs several times its hot cost
 * (bench/pickup-stages.ts against the drains' CPU per task). When the first parse after a gap
 * costs several times the second, whatever the gap was, what a pickup costs is set mostly by
 * how much code and data it touches after a gap, not by how many instructions it runs: a cut
 * on the pickup path is then worth the memory it no longer touches (bench/analysis.md,
 * fifteenth session).
 *
 *   node --import tsx bench/idle-penalty.ts [--rounds=400]
 */
import { runMain } from './lib/run-main.js';

const opt = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const rounds = Number(opt.get('rounds') ?? 400);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const ENTRY = '{"id":"_k1gMQYjemS7foh0h7c2o","function":"probe","data":{"i":0},"queued_at":1796430040023}';

const gaps: Record<string, () => Promise<void>> = {
  hot: () => Promise.resolve(),
  'sleep 1 ms': () => sleep(1),
  'sleep 5 ms': () => sleep(5),
  'busy 5 ms': async () => {
    const until = performance.now() + 5;
    while (performance.now() < until);
  },
};

async function main() {
  const out: Record<string, { first: number; second: number }> = {};
  // (the gaps interleaved round by round, so that the machine's drift falls on all alike)
  const first: Record<string, number[]> = {};
  const second: Record<string, number[]> = {};
  for (let i = 0; i < rounds; i++) {
    for (const [name, gap] of Object.entries(gaps)) {
      await gap();
      // a new string each time, as a reply read from a socket is
      const raw = ENTRY.replace('"i":0', `"i":${i}`);
      const t0 = performance.now();
      JSON.parse(raw);
      const t1 = performance.now();
      JSON.parse(raw);
      const t2 = performance.now();
      // (the first rounds run before V8 has optimized this loop: left out)
      if (i < rounds / 4) continue;
      (first[name] ??= []).push((t1 - t0) * 1000);
      (second[name] ??= []).push((t2 - t1) * 1000);
    }
  }
  for (const name of Object.keys(gaps)) out[name] = { first: Math.round(median(first[name]!) * 100) / 100, second: Math.round(median(second[name]!) * 100) / 100 };
  console.log(JSON.stringify({ rounds, parseUs: out }));
}

runMain(main);
