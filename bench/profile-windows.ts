/**
 * A CPU profile of `bench/pickup-stages.ts`, split by the stages of each pickup: which functions
 * the samples taken inside each stage fell in (self time), per pickup. The first rounds (warm-up)
 * are left out.
 *
 *   node --cpu-prof --cpu-prof-dir=D --cpu-prof-interval 20 --import tsx bench/pickup-stages.ts . --rounds=2000 --windows=W.json
 *   node --import tsx bench/profile-windows.ts D/<the larger .cpuprofile> W.json [--top=25] [--skip=300]
 *
 * The sampler on a busy two-core machine takes far fewer samples than its interval asks (a
 * fifth to a tenth here), so the figures are shares of each stage, not its time: compare them
 * with the stage's time pickup-stages prints.
 */
import { readFileSync } from 'node:fs';
import { runMain } from './lib/run-main.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const [profileFile, windowsFile, ...rest] = process.argv.slice(2);
const opt = new Map(rest.map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const STAGES = ['write', 'reply', 'start'] as const;

async function main() {
  if (!profileFile || !windowsFile) throw new Error('usage: profile-windows.ts <.cpuprofile> <windows.json> [--top=25] [--skip=300]');
  const profile = JSON.parse(readFileSync(profileFile, 'utf8')) as Profile;
  // (hrtime ns to the profile's clock, µs: both are the monotonic clock)
  const windows = (JSON.parse(readFileSync(windowsFile, 'utf8')) as string[][]).slice(Number(opt.get('skip') ?? 300)).map((w) => w.map((x) => Number(BigInt(x) / 1000n)));
  const nameOf = new Map(profile.nodes.map((n) => [n.id, `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`]));
  const counts = STAGES.map(() => new Map<string, number>());
  const totals = STAGES.map(() => 0);
  let at = profile.startTime;
  let w = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i]!;
    while (w < windows.length && windows[w]![3]! < at) w++;
    const win = windows[w];
    if (!win || at < win[0]!) continue;
    const stage = at < win[1]! ? 0 : at < win[2]! ? 1 : 2;
    const name = nameOf.get(profile.samples[i]!)!;
    counts[stage]!.set(name, (counts[stage]!.get(name) ?? 0) + 1);
    totals[stage]!++;
  }
  const top = Number(opt.get('top') ?? 25);
  STAGES.forEach((stage, s) => {
    console.log(`== ${stage}: ${totals[s]} samples in ${windows.length} pickups`);
    const rows = [...counts[s]!].sort((a, b) => b[1] - a[1]).slice(0, top);
    for (const [name, n] of rows) console.log(`  ${((100 * n) / Math.max(1, totals[s]!)).toFixed(1).padStart(5)}%  ${name}`);
  });
}

runMain(main);
