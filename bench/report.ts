/**
 * Targets, console summary, docs/benchmarks.md (tables) and docs/benchmarks.svg (a
 * hand-written bar chart) from a results object. Run alone to regenerate the docs from
 * bench/results/latest.json: `node --import tsx bench/report.ts`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LIBS, LIB_LABEL, type LibName } from './lib/libs.js';
import { round } from './lib/timing.js';
import type { ThroughputResult, Cell } from './scenarios/throughput.js';
import type { LatencyCell } from './scenarios/latency.js';
import type { FailoverCell } from './scenarios/failover.js';
import type { CostResult } from './scenarios/cost.js';
import type { MonitorResult } from './scenarios/monitor.js';
import type { ProfileResult } from './scenarios/profile.js';
import type { OrderResult } from './scenarios/order.js';
import type { TimeResult } from './scenarios/time.js';
import { timeMarkdown, timeSummary, timeVerdicts } from './report-time.js';
import type { DurableResult } from './scenarios/durable.js';
import type { SentinelResult } from './scenarios/sentinel.js';
import type { ClusterResult } from './scenarios/cluster.js';

type Results = Record<string, any>;

export interface Verdict {
  target: string;
  value: string;
  met: boolean | null;
  margin: string;
}

const fmt = (x: number | null | undefined, d = 0) =>
  x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const ratio = (a: number | null, b: number | null) => (a && b ? a / b : null);

function cell(t: ThroughputResult, lib: LibName, mode: string, config: string): Cell | undefined {
  return t.cells.find((c) => c.lib === lib && c.mode === mode && c.config === config);
}

const THROUGHPUT_TARGETS: Record<string, { bullmq: number; bee: number }> = {
  c1: { bullmq: 1.5, bee: 1.0 },
  c10: { bullmq: 2.5, bee: 1.25 },
  c100: { bullmq: 2.5, bee: 1.25 },
  '4x c10': { bullmq: 2.5, bee: 1.25 },
};

export function evaluate(r: Results): Verdict[] {
  const out: Verdict[] = [];
  const t = r.throughput as ThroughputResult | undefined;
  if (t) {
    for (const [config, tg] of Object.entries(THROUGHPUT_TARGETS)) {
      for (const mode of ['drain', 'e2e']) {
        const ts = cell(t, 'task-swarm', mode, config)?.rate ?? null;
        for (const [peer, need] of [
          ['bullmq', tg.bullmq],
          ['bee-queue', tg.bee],
        ] as const) {
          const other = cell(t, peer, mode, config)?.rate ?? null;
          const q = ratio(ts, other);
          out.push({
            target: `throughput ${config} ${mode}: Task Swarm >= ${need}x ${LIB_LABEL[peer]}`,
            value: q === null ? 'no data' : `${fmt(q, 2)}x (${fmt(ts)} vs ${fmt(other)} tasks/s)`,
            met: q === null ? null : q >= need,
            margin: q === null ? '' : `${q >= need ? '+' : ''}${fmt((100 * (q - need)) / need, 0)}% vs target`,
          });
        }
      }
    }
  }
  const l = r.latency as { cells: LatencyCell[] } | undefined;
  if (l) {
    const ts = l.cells.find((c) => c.lib === 'task-swarm');
    const bee = l.cells.find((c) => c.lib === 'bee-queue');
    const p50ok = ts?.p50 != null && bee?.p50 != null ? ts.p50 <= bee.p50 : null;
    out.push({
      target: "pickup p50 <= Bee-Queue's",
      value: `${fmt(ts?.p50, 3)} ms vs ${fmt(bee?.p50, 3)} ms`,
      met: p50ok,
      margin: ts?.p50 != null && bee?.p50 != null ? `${fmt(ts.p50 - bee.p50, 3)} ms` : '',
    });
    out.push({
      target: 'pickup p99 <= 5 ms',
      value: `${fmt(ts?.p99, 3)} ms`,
      met: ts?.p99 != null ? ts.p99 <= 5 : null,
      margin: ts?.p99 != null ? `${fmt(ts.p99 - 5, 3)} ms` : '',
    });
  }
  const f = r.failover as { lockMs: number; cells: FailoverCell[] } | undefined;
  if (f) {
    const limit = f.lockMs * 1.1;
    for (const ts of f.cells.filter((x) => x.lib === 'task-swarm')) {
      const worst = ts.runs.length ? Math.max(...ts.runs) : null;
      const failed = ts.errors.some((e) => /timed out/.test(e));
      out.push({
        target: `failover <= taskTimeout + 10% (${fmt(limit)} ms)${ts.variant ? `, ${ts.variant}` : ''}`,
        value: failed && worst === null ? 'never failed over (timed out)' : `median ${fmt(ts.ms)} ms, worst ${fmt(worst)} ms${failed ? ', and a run timed out' : ''}`,
        met: failed ? false : worst != null ? worst <= limit : null,
        margin: worst != null ? `worst ${worst - limit >= 0 ? '+' : ''}${fmt(worst - limit)} ms vs limit` : '',
      });
    }
  }
  const c = r.cost as CostResult | undefined;
  if (c) {
    for (const cc of c.cells.filter((x) => x.lib === 'task-swarm' && x.concurrency >= 10)) {
      out.push({
        target: `<= 2 round trips per task at c${cc.concurrency}`,
        value: `${fmt(cc.roundTrips, 2)}`,
        met: cc.roundTrips != null ? cc.roundTrips <= 2 : null,
        margin: cc.roundTrips != null ? `${fmt(cc.roundTrips - 2, 2)}` : '',
      });
    }
  }
  const m = r.monitor as MonitorResult | undefined;
  if (m) {
    const healthy = m.cases.find((x) => x.stale === 0);
    out.push({
      target: `monitor pass < 10 ms at ${fmt(m.tasks)} healthy tasks`,
      value: `${fmt(healthy?.ms, 3)} ms`,
      met: healthy?.ms != null ? healthy.ms < 10 : null,
      margin: healthy?.ms != null ? `${fmt(healthy.ms - 10, 2)} ms` : '',
    });
  }
  if (t) {
    const ts = t.memoryPerQueuedTask['task-swarm'];
    const bee = t.memoryPerQueuedTask['bee-queue'];
    out.push({
      target: "memory per queued task <= Bee-Queue's",
      value: `${fmt(ts)} B vs ${fmt(bee)} B`,
      met: ts != null && bee != null ? ts <= bee : null,
      margin: ts != null && bee != null ? `${ts - bee >= 0 ? '+' : ''}${fmt(ts - bee)} B` : '',
    });
  }
  out.push(...timeVerdicts(r.time as TimeResult | undefined));
  return out;
}

const label = (c: FailoverCell) => `${LIB_LABEL[c.lib]}${c.variant ? ` (${c.variant})` : ''}`;
const mark = (v: boolean | null) => (v === null ? 'n/a' : v ? 'met' : 'MISSED');

export function printSummary(r: Results): void {
  const t = r.throughput as ThroughputResult | undefined;
  if (t) {
    console.log('\nThroughput (tasks/s, median) and ratios Task Swarm / peer:');
    const configs = [...new Set(t.cells.map((c) => c.config))];
    for (const config of configs) {
      for (const mode of ['drain', 'e2e']) {
        const v = (lib: LibName) => cell(t, lib, mode, config)?.rate ?? null;
        const ts = v('task-swarm');
        console.log(
          `  ${config.padEnd(7)} ${mode.padEnd(5)}  TS ${fmt(ts).padStart(6)}  BullMQ ${fmt(v('bullmq')).padStart(6)}  Bee ${fmt(v('bee-queue')).padStart(6)}` +
            `   TS/BullMQ ${fmt(ratio(ts, v('bullmq')), 2)}x  TS/Bee ${fmt(ratio(ts, v('bee-queue')), 2)}x` +
            `   worker CPU µs/task ${LIBS.map((lib) => fmt(cell(t, lib, mode, config)?.workerCpuUs, 0)).join(' / ')}`,
        );
      }
    }
  }
  const l = r.latency as { cells: LatencyCell[] } | undefined;
  if (l) {
    console.log('\nPickup latency p50 / p90 / p99 (ms):');
    for (const c of l.cells) console.log(`  ${LIB_LABEL[c.lib].padEnd(10)} ${fmt(c.p50, 3)} / ${fmt(c.p90, 3)} / ${fmt(c.p99, 3)}`);
    const ts = l.cells.find((c) => c.lib === 'task-swarm');
    for (const c of l.cells.filter((x) => x.lib !== 'task-swarm')) console.log(`  p50 ratio TS/${LIB_LABEL[c.lib]}: ${fmt(ratio(ts?.p50 ?? null, c.p50), 2)}x`);
  }
  const f = r.failover as { cells: FailoverCell[] } | undefined;
  if (f) {
    console.log('\nFailover (ms from SIGKILL to the task running again):');
    for (const c of f.cells) console.log(`  ${label(c)}: ${fmt(c.ms)} (runs ${c.runs.join(', ') || 'none'})${c.errors.length ? ` ${c.errors.join('; ')}` : ''}`);
  }
  const c = r.cost as CostResult | undefined;
  if (c) {
    console.log('\nRedis cost per task (worker side): round trips / commands / all incl. scripts / Redis µs:');
    for (const x of c.cells) console.log(`  ${LIB_LABEL[x.lib].padEnd(10)} c${String(x.concurrency).padEnd(4)} ${fmt(x.roundTrips, 2)} / ${fmt(x.topLevelCommands, 2)} / ${fmt(x.allCommands, 1)} / ${fmt(x.redisUs, 1)}`);
  }
  if (t) console.log(`\nRedis memory per queued task (B): ${LIBS.map((lib) => `${LIB_LABEL[lib]} ${fmt(t.memoryPerQueuedTask[lib])}`).join(', ')}`);
  const m = r.monitor as MonitorResult | undefined;
  const o = r.order as OrderResult | undefined;
  if (o) {
    console.log('\nOrder: Redis µs per claim (of 1 / of 10 / limited of 1 / limited of 10) by tasks queued:');
    for (const q of [...new Set(o.cells.map((c) => c.size))]) {
      const v = (limits: boolean, batch: number) => fmt(o.cells.find((c) => c.size === q && c.limits === limits && c.batch === batch)?.usPerClaim, 1);
      console.log(`  ${fmt(q).padStart(9)}  ${v(false, 1)} / ${v(false, 10)} / ${v(true, 1)} / ${v(true, 10)}`);
    }
    console.log(`  memory per queued task: plain ${fmt(o.memory.plain)} B, placed ${Object.entries(o.memory.placed).map(([n, b]) => `${fmt(b)} B at ${n}`).join(', ')}`);
  }
  if (m) console.log(`\nMonitor pass at ${fmt(m.tasks)} running tasks: ${m.cases.map((x) => `${x.stalePct}% stale ${fmt(x.ms, 3)} ms`).join(', ')}`);
  for (const line of timeSummary(r.time as TimeResult | undefined)) console.log(line);
  const verdicts = (r.targets as Verdict[]) ?? [];
  if (verdicts.length) {
    console.log('\nTargets:');
    for (const v of verdicts) console.log(`  [${mark(v.met).padEnd(6)}] ${v.target}: ${v.value}${v.margin ? ` (${v.margin})` : ''}`);
  }
  const errs = Object.entries((r.errors as Record<string, string>) ?? {});
  for (const [k, v] of errs) console.log(`\nscenario ${k} failed: ${v}`);
}

/* ---------------------------------------------------------------- SVG chart */

const COLORS: Record<LibName, string> = { 'task-swarm': '#2b6cb0', bullmq: '#c05621', 'bee-queue': '#2f855a' };
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(v: number): number {
  const p = 10 ** Math.floor(Math.log10(Math.max(1, v)));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/**
 * the throughput chart's size, and the margins around its plot: the y axis's title and labels
 * left, the title and legend above, the group labels and the footnote below
 */
const CHART = { W: 960, H: 440, left: 70, right: 20, top: 60, bottom: 80 };

export function throughputSvg(t: ThroughputResult, title: string): string {
  const configs = [...new Set(t.cells.map((c) => c.config))];
  const groups = configs.flatMap((config) => ['drain', 'e2e'].map((mode) => ({ config, mode })));
  const { W, H, left, right, top, bottom } = CHART;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const max = niceMax(Math.max(1, ...t.cells.map((c) => c.rate ?? 0)));
  const gw = plotW / groups.length;
  const bw = Math.min(28, (gw - 16) / LIBS.length);
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  parts.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${esc(title)}</text>`);
  // legend
  let lx = W / 2 - 170;
  for (const lib of LIBS) {
    parts.push(`<rect x="${lx}" y="36" width="12" height="12" fill="${COLORS[lib]}"/>`);
    parts.push(`<text x="${lx + 16}" y="46">${esc(LIB_LABEL[lib])}</text>`);
    lx += 120;
  }
  // grid + y axis
  for (let i = 0; i <= 5; i++) {
    const v = (max * i) / 5;
    const yy = y(v);
    parts.push(`<line x1="${left}" y1="${yy}" x2="${W - right}" y2="${yy}" stroke="#e2e8f0"/>`);
    parts.push(`<text x="${left - 6}" y="${yy + 4}" text-anchor="end" fill="#4a5568">${fmt(v)}</text>`);
  }
  parts.push(`<text x="16" y="${top + plotH / 2}" transform="rotate(-90 16 ${top + plotH / 2})" text-anchor="middle" fill="#4a5568">tasks / s (median)</text>`);
  parts.push(`<line x1="${left}" y1="${top + plotH}" x2="${W - right}" y2="${top + plotH}" stroke="#4a5568"/>`);
  groups.forEach((g, gi) => {
    const gx = left + gi * gw + (gw - bw * LIBS.length) / 2;
    LIBS.forEach((lib, li) => {
      const c = cell(t, lib, g.mode, g.config);
      const v = c?.rate ?? 0;
      const x = gx + li * bw;
      if (c?.rate != null) {
        parts.push(`<rect x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(top + plotH - y(v)).toFixed(1)}" fill="${COLORS[lib]}"><title>${esc(`${LIB_LABEL[lib]} ${g.config} ${g.mode}: ${fmt(v)} tasks/s`)}</title></rect>`);
        parts.push(`<text x="${(x + (bw - 2) / 2).toFixed(1)}" y="${(y(v) - 4).toFixed(1)}" text-anchor="middle" font-size="9" fill="#2d3748" transform="rotate(-90 ${(x + (bw - 2) / 2).toFixed(1)} ${(y(v) - 4).toFixed(1)})" dx="18" dy="3">${fmt(v)}</text>`);
      } else {
        parts.push(`<text x="${(x + bw / 2).toFixed(1)}" y="${top + plotH - 4}" text-anchor="middle" font-size="9" fill="#c53030">n/a</text>`);
      }
    });
    const cx = left + gi * gw + gw / 2;
    parts.push(`<text x="${cx}" y="${top + plotH + 18}" text-anchor="middle">${esc(g.config)}</text>`);
    parts.push(`<text x="${cx}" y="${top + plotH + 34}" text-anchor="middle" fill="#4a5568">${esc(g.mode)}</text>`);
    if (gi % 2 === 1 && gi < groups.length - 1) {
      const sx = left + (gi + 1) * gw;
      parts.push(`<line x1="${sx}" y1="${top}" x2="${sx}" y2="${top + plotH + 40}" stroke="#cbd5e0" stroke-dasharray="3,3"/>`);
    }
  });
  parts.push(
    `<text x="${W / 2}" y="${H - 14}" text-anchor="middle" fill="#4a5568" font-size="11">${esc(
      `${fmt(t.n)} no-op tasks per run, median of ${t.repeats}; drain = queued first, e2e = produced while the workers run; c = concurrency per worker process`,
    )}</text>`,
  );
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/* ---------------------------------------------------------------- markdown */

export function markdown(r: Results): string {
  const L: string[] = [];
  const v = r.versions ?? {};
  const mc = r.machine ?? {};
  L.push('# Benchmarks: Task Swarm vs BullMQ vs Bee-Queue');
  L.push('');
  L.push('<!-- generated by `npm run bench` (bench/run.ts, bench/report.ts); do not edit by hand -->');
  L.push('');
  L.push(
    `Run ${String(r.date ?? '').slice(0, 16).replace('T', ' ')} UTC on ${mc.cpus} × ${mc.cpu ?? 'CPU'}, ${mc.memGiB} GiB, Node ${mc.node}, redis-server ${v.redis}; ` +
      `Task Swarm ${v['task-swarm']} (commit ${r.git?.commit ?? '?'}${r.git?.dirty?.length ? `, with uncommitted changes to ${r.git.dirty.join(', ')}` : ''}), ` +
      `BullMQ ${v.bullmq}, Bee-Queue ${v['bee-queue']}. Whole run: ${fmt(r.wallSeconds)} s. ` +
      `Load average (1/5/15 min) before ${(r.loadAverageBefore ?? []).join(' / ')}, after ${(r.loadAverageAfter ?? []).join(' / ')}` +
      ' (anything above ~2 means other processes shared the 2 cores during the run).',
  );
  L.push('');
  const carried = Object.entries((r.carried as Record<string, { date?: string; commit?: string }>) ?? {});
  if (carried.length) {
    L.push(`This run measured only ${Object.keys(r).filter((k) => ['throughput', 'latency', 'failover', 'cost', 'monitor', 'profile', 'order', 'time', 'durable', 'sentinel', 'cluster'].includes(k) && !(k in (r.carried ?? {}))).join(', ')}; the other sections are carried over from earlier runs: ${carried.map(([k, c]) => `${k} (${String(c.date ?? '').slice(0, 10)}, commit ${c.commit ?? '?'})`).join(', ')}.`);
    L.push('');
  }
  L.push('![throughput chart](benchmarks.svg)');
  L.push('');
  const t = r.throughput as ThroughputResult | undefined;
  if (t) {
    L.push(`## Throughput (tasks/s, median of ${t.repeats}, ${fmt(t.n)} no-op tasks per run)`);
    L.push('');
    L.push('| workers | mode | Task Swarm | BullMQ | Bee-Queue | TS / BullMQ | TS / Bee-Queue | target (BullMQ, Bee) |');
    L.push('|---|---|--:|--:|--:|--:|--:|---|');
    const configs = [...new Set(t.cells.map((c) => c.config))];
    for (const config of configs) {
      for (const mode of ['drain', 'e2e']) {
        const val = (lib: LibName) => cell(t, lib, mode, config)?.rate ?? null;
        const ts = val('task-swarm');
        const tg = THROUGHPUT_TARGETS[config];
        const q1 = ratio(ts, val('bullmq'));
        const q2 = ratio(ts, val('bee-queue'));
        const flag = (q: number | null, need?: number) => (q === null || need === undefined ? fmt(q, 2) : `${fmt(q, 2)}x ${q >= need ? '✓' : '✗'}`);
        L.push(
          `| ${config === 'c1' || config === 'c10' || config === 'c100' ? `1 process, ${config.replace('c', 'concurrency ')}` : `4 processes, concurrency 10`} | ${mode} | ${fmt(ts)} | ${fmt(val('bullmq'))} | ${fmt(val('bee-queue'))} | ${flag(q1, tg?.bullmq)} | ${flag(q2, tg?.bee)} | ${tg ? `${tg.bullmq}x, ${tg.bee}x` : ''} |`,
        );
      }
    }
    L.push('');
    const errs = t.cells.filter((c) => c.errors.length);
    for (const c of errs) L.push(`- ${LIB_LABEL[c.lib]} ${c.config} ${c.mode}: ${c.errors.join('; ')}`);
    if (errs.length) L.push('');
    L.push(
      `Submit rate while filling the queue (producer alone, 500 in flight): ${LIBS.map((lib) => `${LIB_LABEL[lib]} ${fmt(t.submitRate[lib])}/s`).join(', ')}.`,
    );
    L.push('');
  }
  const l = r.latency as { cells: LatencyCell[] } | undefined;
  if (l) {
    L.push(`## Pickup latency (submit → function starts, idle worker, ${l.cells[0]?.count ?? ''} tasks one at a time)`);
    L.push('');
    L.push('| library | p50 ms | p90 ms | p99 ms | worst run max ms |');
    L.push('|---|--:|--:|--:|--:|');
    for (const c of l.cells) L.push(`| ${LIB_LABEL[c.lib]} | ${fmt(c.p50, 3)} | ${fmt(c.p90, 3)} | ${fmt(c.p99, 3)} | ${fmt(c.runs.length ? Math.max(...c.runs.map((x) => x.max)) : null, 2)} |`);
    L.push('');
  }
  const f = r.failover as { lockMs: number; cells: FailoverCell[] } | undefined;
  if (f) {
    L.push(`## Failover (worker SIGKILLed mid-task; lock / task timeout ${fmt(f.lockMs)} ms everywhere)`);
    L.push('');
    L.push('| library | median ms until the task runs again | runs |');
    L.push('|---|--:|---|');
    for (const c of f.cells) L.push(`| ${label(c)} | ${fmt(c.ms)} | ${c.runs.map((x) => fmt(x)).join(', ')}${c.errors.length ? ` (${c.errors.join('; ')})` : ''} |`);
    L.push('');
  }
  const c = r.cost as CostResult | undefined;
  if (c) {
    L.push(`## Redis cost per task (worker side, ${fmt(c.n)} tasks drained by one process, median of ${c.repeats ?? 1})`);
    L.push('');
    L.push('| library | concurrency | round trips | commands sent | commands run (incl. in scripts) | Redis µs | bytes on the wire |');
    L.push('|---|--:|--:|--:|--:|--:|--:|');
    for (const x of c.cells) L.push(`| ${LIB_LABEL[x.lib]} | ${x.concurrency} | ${fmt(x.roundTrips, 2)} | ${fmt(x.topLevelCommands, 2)} | ${fmt(x.allCommands, 1)} | ${fmt(x.redisUs, 1)} | ${fmt(x.netBytes)} |`);
    L.push('');
    L.push('“Redis µs” is the sum of SLOWLOG durations of the commands the worker sent, with SLOWLOG recording every command (which slows scripts down: the CPU table below is measured without it). Where that time goes at concurrency 10:');
    L.push('');
    for (const lib of LIBS) {
      const x = c.cells.find((y) => y.lib === lib && y.concurrency === 10);
      if (!x) continue;
      L.push(`- ${LIB_LABEL[lib]}: ${x.byCommand.slice(0, 5).map((b) => `\`${b.command}\` ${b.pctTime}% (${fmt(b.perTask, 2)}/task, ${fmt(b.avgUs, 1)} µs)`).join(', ')}`);
    }
    L.push('');
    L.push('Commands run inside scripts per task at concurrency 10:');
    L.push('');
    for (const lib of LIBS) {
      const x = c.cells.find((y) => y.lib === lib && y.concurrency === 10);
      if (!x) continue;
      const inner = x.innerCommands.filter((b) => b.perTask >= 0.005);
      L.push(`- ${LIB_LABEL[lib]}: ${inner.slice(0, 12).map((b) => `${b.command} ${fmt(b.perTask, 2)}`).join(', ') || 'none (no script on its per-task path)'}`);
    }
    L.push('');
    if (t) {
      L.push('CPU time per task during the throughput runs (user + sys, µs, median): of the worker processes (all of them, from their start to the last completion) and of redis-server:');
      L.push('');
      L.push('| workers | mode | Task Swarm worker | BullMQ worker | Bee-Queue worker | Task Swarm Redis | BullMQ Redis | Bee-Queue Redis |');
      L.push('|---|---|--:|--:|--:|--:|--:|--:|');
      for (const config of [...new Set(t.cells.map((x) => x.config))]) {
        for (const mode of ['drain', 'e2e']) {
          L.push(
            `| ${config} | ${mode} | ${LIBS.map((lib) => fmt(cell(t, lib, mode, config)?.workerCpuUs, 0)).join(' | ')} | ${LIBS.map((lib) => fmt(cell(t, lib, mode, config)?.redisCpuUs, 0)).join(' | ')} |`,
          );
        }
      }
      L.push('');
    }
    const mem = t?.memoryPerQueuedTask;
    L.push('| library | producer commands per submit (incl. in scripts) | Redis memory per queued task |');
    L.push('|---|--:|--:|');
    for (const lib of LIBS) {
      const p = c.producer[lib];
      L.push(`| ${LIB_LABEL[lib]} | ${fmt(p?.topLevelCommands, 2)} (${fmt(p?.allCommands, 1)}) | ${fmt(mem?.[lib] ?? p?.memPerTask)} B |`);
    }
    L.push('');
  }
  const m = r.monitor as MonitorResult | undefined;
  if (m) {
    L.push(`## Monitor pass (Task Swarm; ${fmt(m.tasks)} RUNNING tasks; requeue.lua + reap.lua)`);
    L.push('');
    L.push('| stale | one pass, ms (median) | requeued per pass |');
    L.push('|---|--:|--:|');
    for (const x of m.cases) L.push(`| ${x.stalePct}% (${fmt(x.stale)}) | ${fmt(x.ms, 3)} | ${fmt(x.requeuedPerPass)} |`);
    L.push('');
    L.push(`Redis memory per claimed (RUNNING) task in this layout: ${fmt(m.memPerRunningTask)} B.`);
    L.push('');
  }
  const p = r.profile as ProfileResult | undefined;
  if (p) {
    L.push(`## Profile: Task Swarm worker, concurrency ${p.concurrency}, drain of ${fmt(p.n)} (node --cpu-prof)`);
    L.push('');
    L.push(`${fmt(p.rate)} tasks/s under the profiler; ${fmt(p.summary.busyMs)} ms busy, ${fmt(p.summary.idleMs)} ms idle in the drain.`);
    L.push(`Inclusive: ${p.summary.inclusive.map((e) => `${e.name} ${e.pct}%`).join(', ')}.`);
    L.push('');
    L.push('| self time | function | where |');
    L.push('|--:|---|---|');
    for (const e of p.summary.top.slice(0, 12)) L.push(`| ${e.pct}% | \`${e.name}\` | ${e.where ? `\`${e.where}\`` : ''} |`);
    L.push('');
    L.push(`By package (self time): ${p.summary.byPackage.slice(0, 10).map((e) => `${e.name} ${e.pct}%`).join(', ')}.`);
    L.push('');
  }
  const o = r.order as OrderResult | undefined;
  if (o) L.push(...orderSection(o));
  // the seed path against issue 9's base commit (bench/seed-pairs.ts): written by hand
  L.push(readFileSync(fileURLToPath(new URL('./order-cost.md', import.meta.url)), 'utf8').trim());
  L.push('');
  L.push(...timeMarkdown(r.time as TimeResult | undefined));
  L.push(...durableMarkdown(r.durable as DurableResult | undefined));
  L.push(...sentinelMarkdown(r.sentinel as SentinelResult | undefined));
  L.push(...clusterMarkdown(r.cluster as ClusterResult | undefined));
  const verdicts = (r.targets as Verdict[]) ?? [];
  if (verdicts.length) {
    L.push('## Targets');
    L.push('');
    L.push('| target | measured | result |');
    L.push('|---|---|---|');
    for (const x of verdicts) L.push(`| ${x.target} | ${x.value} | ${mark(x.met)}${x.margin ? ` (${x.margin})` : ''} |`);
    L.push('');
  }
  // Why targets are missed and what it would take: written by hand, kept beside the generator.
  L.push(readFileSync(fileURLToPath(new URL('./analysis.md', import.meta.url)), 'utf8').trim());
  L.push('');
  const errs = Object.entries((r.errors as Record<string, string>) ?? {});
  if (errs.length) {
    L.push('## Scenarios that did not complete');
    L.push('');
    for (const [k, e] of errs) L.push(`- ${k}: ${e}`);
    L.push('');
  }
  L.push(method(Number(r.settings?.n ?? t?.n ?? 10_000), Number(r.settings?.warmup ?? 500), Number(r.settings?.budgetSeconds ?? 555)));
  return `${L.join('\n')}\n`;
}

function orderSection(o: OrderResult): string[] {
  const L: string[] = [];
  const sizes = [...new Set(o.cells.map((c) => c.size))];
  const get = (q: number, limits: boolean, batch: number) => o.cells.find((c) => c.size === q && c.limits === limits && c.batch === batch);
  const base = (limits: boolean, batch: number) => get(sizes[0]!, limits, batch)?.usPerClaim ?? null;
  const withRatio = (q: number, limits: boolean, batch: number) => {
    const c = get(q, limits, batch);
    const b = base(limits, batch);
    return c ? `${fmt(c.usPerClaim, 1)}${q === sizes[0] ? '' : ` (×${fmt(ratio(c.usPerClaim, b), 2)})`}` : '—';
  };
  const claims = o.cells[0];
  L.push(`## Order: claim cost as the queue grows (${fmt(o.groups)} groups × ${o.priorities} priorities, one function)`);
  L.push('');
  L.push(
    `Redis µs per claim script (INFO commandstats, mean over ${claims?.claims ?? '?'} claims of 1 task and ${o.cells.find((c) => c.batch === 10)?.claims ?? '?'} claims of 10), ` +
      'ratio to the smallest queue in brackets; *limited*: a concurrency and a rate limit on the function and on every group, high enough never to bind. ' +
      'O(log n) would be ×1.25 at 100k and ×1.5 at 1M (log n / log 10k). The commands a claim runs are the same at every size (last column but one): ' +
      'what grows is inside the zset operations, O(log n) each; the µs are measured on a shared machine and vary by ±20% between runs. ' +
      `${sizes.includes(1_000_000) ? 'The 1M row comes from the opt-in `--order-max=1000000`.' : '1M is opt-in: `npm run bench -- --only=order --order-max=1000000`.'}`,
  );
  L.push('');
  L.push('| queued | claim of 1 | claim of 10 | per task (claim of 10) | limited: claim of 1 | limited: claim of 10 | commands per claim (1 / 10 / limited 1) | round trip ms (claim of 1) |');
  L.push('|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const q of sizes) {
    L.push(
      `| ${fmt(q)} | ${withRatio(q, false, 1)} | ${withRatio(q, false, 10)} | ${fmt(get(q, false, 10)?.usPerTask, 1)} | ${withRatio(q, true, 1)} | ${withRatio(q, true, 10)} | ` +
        `${fmt(get(q, false, 1)?.commandsPerClaim, 1)} / ${fmt(get(q, false, 10)?.commandsPerClaim, 1)} / ${fmt(get(q, true, 1)?.commandsPerClaim, 1)} | ${fmt(get(q, false, 1)?.rttMs, 3)} |`,
    );
  }
  L.push('');
  L.push(
    `Redis memory per queued task: a plain seed task on \`new-task\` (no group, no priority; ${fmt(o.memory.plainN)} of them) ${fmt(o.memory.plain)} B; ` +
      `a placed task (group + priority, its hash and its member in its group's zset): ${Object.entries(o.memory.placed)
        .map(([n, b]) => `${fmt(b)} B at ${fmt(Number(n))}`)
        .join(', ')}. Fill rate (submit.lua, a thousand per call): ${fmt(o.fillRate)} submits/s.`,
  );
  L.push('');
  return L;
}

const method = (n: number, warmup: number, budgetS: number) => `## Method

\`npm run bench\` (\`bench/run.ts\`) starts a private \`redis-server\` on a free port in a temp dir
(\`--save '' --appendonly no\`), runs every scenario for the three libraries one after the other
with the same settings, and writes \`bench/results/latest.json\` and this page. Each library
runs with its defaults except what a scenario sets (concurrency; lock/stall timeouts for
failover). Completed jobs are kept, as all three do by default; no Task Swarm monitor runs
during the throughput runs (BullMQ's stalled checker, part of its worker, does).

- **Workers** are child processes (\`bench/worker-child.ts\`), one per worker process, so that
  producer and workers never share an event loop; Task Swarm is used through its public API
  (\`Worker\`, \`Client\`, \`Monitor\` from \`src/index.ts\`, \`port: 0\`, \`TASK_SWARM_LOG=silent\`).
- **Throughput**: ${fmt(n)} tasks per run (the default is 20,000, as the issue asks; a time
  budget stops the scenario starting new runs on a machine too slow to fit them in the
  command's 12 minutes, and the table then shows fewer repeats).
  *drain*: the tasks are queued first (Task Swarm through \`Client.submit\`, i.e.
  submit.lua; BullMQ \`Queue.add\`; Bee-Queue \`Job.save\`), then the workers are started; timed
  from the start command to the last completion recorded in Redis (polled every 5 ms: Task
  Swarm's \`tasks:ended\`, BullMQ's completed zset, Bee-Queue's succeeded set). *e2e*: workers
  started and idle, then the producer submits with up to 500 submits in flight; timed from the
  first submit to the last completion. Each library's worker processes are reused across its
  repeats after an unrecorded warm-up of ${fmt(warmup)} tasks per worker process, half
  drained and half end to end (a process's CPU per task falls over its first tens of thousands
  of tasks, every library's). One setup at a time: its processes start and warm up, then its
  repeats run interleaved across the libraries (repeat 1 of every cell of the setup, then
  repeat 2, ...) so that load from other processes hits every library alike, and no process
  idles long enough between its runs for V8 to drop the code it compiled; Redis is flushed
  before each run. CPU per task is \`process.cpuUsage()\` of the
  worker children and INFO cpu of redis-server over the timed part.
- **Pickup latency**: one idle worker (concurrency 1); a task is submitted, the function reports
  its start over IPC with a CLOCK_MONOTONIC stamp (\`process.hrtime\`, one clock for all
  processes); after its completion and 5 ms the next is submitted. p50/p90/p99 per repeat,
  median over the repeats, after one unrecorded run of 300 per library.
- **Failover**: worker A runs a task that never returns, worker B is idle, A is SIGKILLed 1–2 s
  after the task started; measured until B's function starts the same task. Task Swarm:
  \`Monitor{taskTimeout, checkTaskInterval}\` = the lock time (in the bench process), workers
  heartbeat every half of it (as the others renew their locks), and in a second variant every
  quarter; BullMQ: \`lockDuration\` = \`stalledInterval\` = the lock time; Bee-Queue: \`stallInterval\`
  and \`checkStalledJobs\` at the lock time.
- **Redis cost**: the worker talks to Redis through a counting TCP proxy (\`bench/proxy.ts\`, its
  own process): a *round trip* is one chunk read from the worker's connections (one write, or
  pipelined writes that arrived together). Commands sent are counted with SLOWLOG at
  \`log-slower-than 0\` (an EVALSHA counts once; its duration is the Redis time), commands run
  with INFO commandstats (which also counts the commands inside scripts; SLOWLOG shows those
  with the Lua client's address \`?:0\`, which is how they are told apart). Median of the
  repeats. Scripts are named by
  the sha1 of each library's Lua sources. Memory per queued task is the \`used_memory\` delta of
  the throughput drain fills divided by N.
- **Monitor pass**: Redis is filled directly in the layout claim.lua writes; one pass is
  \`requeueStale\` + \`reapEnded\` (src/effects/sweep.ts) with the Monitor's batch of 1,000, timed
  from the bench process; the stale tasks are made stale again before each timed pass.
- **Order** (\`bench/scenarios/order.ts\`): Redis is filled with real tasks of one function, placed
  as \`Client.submit\` places a task with a group and a priority (the same submit.lua, a
  thousand tasks per call), across 1,000 groups × 10 priorities, up to 10k, 100k and 1M queued; at each size a
  worker-like caller (the library's \`claim\` effect, a token per claim) claims 1 task at a time,
  then 10, one claim after the other, and Redis's own time per claim script is read from INFO
  commandstats; then again with limits set. 1M is opt-in (\`--order-max=1000000\`: its fill
  alone takes longer than the scenario's 60 s here).
- **Profile**: the Task Swarm worker child runs under \`node --cpu-prof\`; only samples inside
  the timed drain are summarised (\`bench/lib/cpuprofile.ts\`); the raw profile is left in
  \`bench/results/profile/\` (not committed).
- **durable** (\`bench/scenarios/durable.ts\`, Task Swarm only): a primary and a replica of the
  scenario's own; with \`redis.durable\` 0 and 1 alternating, 200 submits one at a time (p50),
  submitMany in batches of 100, then one in-process worker at concurrency 10 drains them.
- **Sentinel failover** (\`bench/scenarios/sentinel.ts\`, Task Swarm and BullMQ): a fresh primary,
  replica and three sentinels per run; one worker child and the producer through the sentinels,
  a probe task every 20 ms; the primary SIGKILLed once tasks run; timed from the kill to the
  start of the first task submitted after it.
- **Redis Cluster** (\`bench/scenarios/cluster.ts\`, Task Swarm only): one Redis, and a cluster of
  three primaries of the scenario's own; one swarm on the one Redis, in one slot of the cluster,
  and spread over it (\`partitions: 3\`); submitMany, then one worker at concurrency 10 drains,
  each Redis process's CPU read before and after (INFO cpu).

Every run has a time limit (a run that hangs is reported as failed and the scenario goes on),
and no run starts after ${fmt(budgetS)} s, so the whole command stays under 12 minutes; the machine has 2 cores shared by Redis,
the producer and the workers, so absolute numbers are low and the ratios are what to compare.
`;

export function writeDocs(r: Results): void {
  const docs = new URL('../docs/', import.meta.url);
  writeFileSync(fileURLToPath(new URL('benchmarks.md', docs)), markdown(r));
  if (r.throughput) {
    const t = r.throughput as ThroughputResult;
    writeFileSync(fileURLToPath(new URL('benchmarks.svg', docs)), throughputSvg(t, `Throughput on ${r.machine?.cpus ?? 2} cores: Task Swarm vs BullMQ vs Bee-Queue`));
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = JSON.parse(readFileSync(fileURLToPath(new URL('./results/latest.json', import.meta.url)), 'utf8')) as Results;
  r.targets = evaluate(r);
  printSummary(r);
  writeDocs(r);
}

/** `redis.durable`: what waiting for a replica costs (scenario 9) */
function durableMarkdown(d: DurableResult | undefined): string[] {
  if (!d) return [];
  const L = [`## \`redis.durable\`: what waiting for a replica costs (Task Swarm; a primary and a replica on this machine)`, ''];
  L.push('| durable | submit p50 ms (one at a time) | submitMany tasks/s (batches of 100) | drain tasks/s (one worker, concurrency 10) |');
  L.push('|--:|--:|--:|--:|');
  for (const row of d.rows) L.push(`| ${row.durable} | ${row.submitP50Ms} | ${fmt(row.submitRate)} | ${fmt(row.drainRate)} |`);
  L.push('');
  L.push(`${fmt(d.tasks)} tasks per run, the settings alternating, median of the runs. A submit and each END batch wait for the replica's acknowledgement (WAIT); across hosts, add the network's round trip to the replica. See docs/deployments.md.`);
  L.push('');
  return L;
}

/**
 * Redis Cluster (scenario 11): what one swarm costs on one Redis, on a cluster in one slot and
 * spread over its primaries, and the model of how it grows with primaries that the measured
 * CPU per node gives.
 */
export function clusterMarkdown(x: ClusterResult | undefined): string[] {
  if (!x) return [];
  const L = [`## Redis Cluster: one swarm on one Redis, in one slot of a ${x.primaries}-primary cluster, and spread over it (\`partitions: ${x.primaries}\`)`, ''];
  L.push('| layout | submitMany tasks/s | drain tasks/s (one worker, c10) | Redis CPU µs/task, all nodes | busiest node µs/task | per node µs/task |');
  L.push('|---|--:|--:|--:|--:|---|');
  for (const r of x.rows) L.push(`| ${r.layout} | ${fmt(r.submitRate)} | ${fmt(r.drainRate)} | ${r.redisUsPerTask} | ${r.busiestUsPerTask} | ${r.perNodeUs.join(', ')} |`);
  L.push('');
  L.push(
    `${fmt(x.tasks)} tasks per run, the layouts rotating, median of the runs; the cluster has ${x.primaries} primaries and no replicas, every process on this machine's two cores. **This shows overhead, not scaling**: the worker, the producer and all the Redis processes share two cores, so spreading Redis's work over three processes cannot make the drain faster here. What scales is the Redis CPU per node, which is what caps a swarm once workers are added on other hosts.`,
  );
  L.push('');
  const oneSlot = x.rows.find((r) => r.layout === 'cluster, one slot');
  const spread = x.rows.find((r) => r.layout === `cluster, partitions ${x.primaries}`);
  if (oneSlot && oneSlot.perNodeUs.length > 1 && spread) {
    // b: what a node that holds none of the swarm spends per task (the cluster bus carries every
    // PUBLISH to every node); s: the scripts' work, on the node that holds the slot
    const others = oneSlot.perNodeUs.slice(1);
    const b = others.reduce((a, v) => a + v, 0) / others.length;
    const s = Math.max(0, oneSlot.perNodeUs[0]! - b);
    const predicted = s / x.primaries + b;
    // what spreading adds per task on a node beyond the model, measured at P = primaries
    const o = Math.max(0, spread.busiestUsPerTask - predicted);
    const rate = (p: number, extra: number) => Math.round(1e6 / (s / p + b + (p > 1 ? extra : 0)));
    L.push('### Model: how one swarm grows with primaries');
    L.push('');
    L.push(
      `Each task's scripts run on the node of its partition; its events are classic pub/sub, which the cluster bus delivers to every node. So with P primaries and \`partitions: P\`, a node spends s/P + b µs of CPU per task of the swarm, where s is the scripts' work and b the bus's per node. From the one-slot row: the node that holds the slot spends ${round(oneSlot.perNodeUs[0]!, 1)} µs per task and the others ${others.map((v) => round(v, 1)).join(' and ')} (b ≈ ${round(b, 1)} µs: receiving the task's events), so s ≈ ${round(s, 1)} µs. At P = ${x.primaries} that predicts ${round(predicted, 1)} µs per task on the busiest node; measured: ${spread.busiestUsPerTask}. The excess, o ≈ ${round(o, 1)} µs, is what spreading adds on the worker's side: a task's END rides in the script of the worker's next claim only when that claim goes to the same partition (one time in P), else it is a call of its own; a claim that finds its partition short goes on to the next; and each heartbeat is a renew per partition (a per-second cost, spread here over only the few thousand tasks a second this machine drains).`,
    );
    L.push('');
    L.push(`A node saturates at 10^6 µs of CPU per second, so with enough workers (on other hosts) the swarm's ceiling is T(P) = 10^6 / (s/P + b) tasks/s, or 10^6 / (s/P + b + o) with the measured excess held constant:`);
    L.push('');
    L.push('| primaries P | ceiling tasks/s (model) | with the excess o |');
    L.push('|--:|--:|--:|');
    for (const p of [1, 2, 3, 6, 12, 24]) L.push(`| ${p} | ${fmt(rate(p, 0))} | ${fmt(rate(p, o))} |`);
    L.push(`| ∞ (bus cap 10^6 / b) | ${b > 0 ? fmt(Math.round(1e6 / b)) : '—'} | ${b + o > 0 ? fmt(Math.round(1e6 / (b + o))) : '—'} |`);
    L.push('');
    L.push(
      'It grows almost linearly while s/P is large against b, and flattens at the bus: every node receives every event of every task. A swarm whose clients subscribe to few tasks pays that for nothing; sharded pub/sub (SPUBLISH, Redis 7) would keep each event on its partition\'s shard, at the cost of the worker\'s pattern subscription to control channels (sharded pub/sub has none): a design for when the bus is the limit. Workers scale apart from Redis (each host adds its cores); each worker\'s own cost grows with P by one renew per partition per heartbeat and one blocking connection per partition, small beside its tasks. The excess o is about one script call\'s fixed cost (a call costs Redis about 90k instructions before its body runs: bench/analysis.md), which fits the END that goes alone; a claim that carries the ENDs of its own partition first, for part of the slots, and goes round the others for the rest would keep most of them riding, without letting a busy partition hold every slot: the next step for a swarm that the bus does not cap yet.',
    );
    L.push('');
  }
  return L;
}

/** Sentinel failover: the primary SIGKILLed, until new work runs again (scenario 10) */
function sentinelMarkdown(x: SentinelResult | undefined): string[] {
  if (!x) return [];
  const L = [`## Sentinel failover (the primary SIGKILLed; a replica and three sentinels, down-after-milliseconds ${fmt(x.downAfterMs)})`, ''];
  L.push('| library | median ms until a task submitted after the kill runs | runs |');
  L.push('|---|--:|---|');
  for (const c of x.cells) {
    const runs = c.runs.map((v) => (v === null ? 'not within 30 s' : fmt(v))).join(', ');
    L.push(`| ${LIB_LABEL[c.lib]} | ${c.median === null ? '—' : fmt(c.median)} | ${runs}${c.errors.length ? ` (${c.errors.length} failed: ${c.errors[0]})` : ''} |`);
  }
  L.push('');
  L.push('One worker at concurrency 1 and the producer, both through the sentinels; a `probe` task every 20 ms; a fresh deployment per run. Bee-Queue has no Sentinel support. Most of the time is the sentinels\' own: `down-after-milliseconds` to judge the primary down, then the election and the promotion; the rest is how soon each library finds the new primary.');
  L.push('');
  return L;
}
