/**
 * Summarise a V8 .cpuprofile (node --cpu-prof): self time per function and per package,
 * optionally only for samples inside a time window (CLOCK_MONOTONIC µs, the clock V8 stamps
 * samples with on Linux, which is also process.hrtime's).
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  parent?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  where: string;
  ms: number;
  pct: number;
}
export interface ProfileSummary {
  /** busy ms (all samples in the window minus idle) */
  busyMs: number;
  idleMs: number;
  windowed: boolean;
  top: ProfileEntry[];
  byPackage: ProfileEntry[];
  /** inclusive time of notable frames (e.g. xstate's actor machinery), ms and % of busy */
  inclusive: ProfileEntry[];
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function where(cf: CallFrame): string {
  let u = cf.url;
  if (!u) return '';
  if (u.startsWith('file://')) u = relative(ROOT, fileURLToPath(u));
  return `${u}:${cf.lineNumber + 1}`;
}

/** package a frame belongs to: `xstate`, `ioredis`, `src/worker.ts`, `node:net`, `(gc)` ... */
function pkg(cf: CallFrame): string {
  const u = cf.url;
  if (!u) return cf.functionName.startsWith('(') ? cf.functionName : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  if (nm) return nm[1]!;
  if (u.startsWith('node:')) return 'node internals';
  if (u.startsWith('file://')) {
    const rel = relative(ROOT, fileURLToPath(u));
    return rel.split('/').slice(0, 2).join('/');
  }
  return u;
}

export function summariseProfile(file: string, window?: { fromUs: number; toUs: number }, topN = 20): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  for (const n of p.nodes) for (const c of n.children ?? []) byId.get(c)!.parent = n.id;
  const self = new Map<number, number>();
  let t = p.startTime;
  let inWindow = 0;
  const counts = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    const dt = p.timeDeltas[i + 1] ?? 0;
    counts.set(p.samples[i]!, (counts.get(p.samples[i]!) ?? 0) + dt);
    if (window && (t < window.fromUs || t > window.toUs)) continue;
    inWindow++;
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + dt);
  }
  const windowed = !!window && inWindow > 0;
  const use = windowed ? self : counts;

  let idleUs = 0;
  let busyUs = 0;
  const fnAgg = new Map<string, ProfileEntry & { us: number }>();
  const pkgAgg = new Map<string, number>();
  const incl = new Map<string, number>();
  const INCLUSIVE = [
    { label: 'xstate (all frames under xstate code)', test: (cf: CallFrame) => cf.url.includes('node_modules/xstate/') },
    { label: 'ioredis (all frames under ioredis code)', test: (cf: CallFrame) => cf.url.includes('node_modules/ioredis/') },
    { label: 'tslog', test: (cf: CallFrame) => cf.url.includes('node_modules/tslog/') },
    { label: 'garbage collector', test: (cf: CallFrame) => cf.functionName === '(garbage collector)' },
  ];
  for (const [id, us] of use) {
    const n = byId.get(id)!;
    const cf = n.callFrame;
    if (cf.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const key = `${cf.functionName}@${where(cf)}`;
    const e = fnAgg.get(key) ?? { name: cf.functionName || '(anonymous)', where: where(cf), ms: 0, pct: 0, us: 0 };
    e.us += us;
    fnAgg.set(key, e);
    pkgAgg.set(pkg(cf), (pkgAgg.get(pkg(cf)) ?? 0) + us);
    // inclusive: does any frame on the stack match?
    for (const rule of INCLUSIVE) {
      let cur: ProfileNode | undefined = n;
      while (cur) {
        if (rule.test(cur.callFrame)) {
          incl.set(rule.label, (incl.get(rule.label) ?? 0) + us);
          break;
        }
        cur = cur.parent === undefined ? undefined : byId.get(cur.parent);
      }
    }
  }
  const pct = (us: number) => Math.round((1000 * us) / Math.max(1, busyUs)) / 10;
  const ms = (us: number) => Math.round(us / 100) / 10;
  const top = [...fnAgg.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, topN)
    .map((e) => ({ name: e.name, where: e.where, ms: ms(e.us), pct: pct(e.us) }));
  const byPackage = [...pkgAgg.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 15)
    .map(([name, us]) => ({ name, where: '', ms: ms(us), pct: pct(us) }));
  const inclusive = [...incl.entries()].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, where: '', ms: ms(us), pct: pct(us) }));
  return { busyMs: ms(busyUs), idleMs: ms(idleUs), windowed, top, byPackage, inclusive };
}
