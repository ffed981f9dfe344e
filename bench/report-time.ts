/**
 * The `time` scenario's part of the report (issue 8): targets, console lines and the "Time"
 * section of docs/benchmarks.md, from results.time (bench/scenarios/time.ts).
 */
import { LIBS, LIB_LABEL } from './lib/libs.js';
import type { PromotionRun, ScriptCalls, TimeResult } from './scenarios/time.js';

interface Verdict {
  target: string;
  value: string;
  met: boolean | null;
  margin: string;
}

const fmt = (x: number | null | undefined, d = 0) =>
  x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

/** the bounded-call target: a promoting call holds Redis no longer than this (ms) */
const CALL_MS = 5;
const LATE_P99_MS = 100;

function bulkRates(t: TimeResult) {
  const rate = (lib: string) => t.bulk.cells.find((c) => c.lib === lib)?.rate ?? null;
  const ts = rate('task-swarm');
  const peers = [rate('bullmq'), rate('bee-queue')].filter((x): x is number => x !== null);
  return { ts, best: peers.length ? Math.max(...peers) : null };
}

const alone = (t: TimeResult): PromotionRun | undefined => t.promotion?.runs.find((r) => r.mode === 'alone');

export function timeVerdicts(t: TimeResult | undefined): Verdict[] {
  if (!t) return [];
  const out: Verdict[] = [];
  const { ts, best } = bulkRates(t);
  out.push({
    target: 'bulk submit: Task Swarm submitMany >= the faster of addBulk, saveAll',
    value: ts === null || best === null ? 'no data' : `${fmt(ts / best, 2)}x (${fmt(ts)} vs ${fmt(best)} tasks/s)`,
    met: ts === null || best === null ? null : ts >= best,
    margin: ts === null || best === null ? '' : `${ts >= best ? '+' : ''}${fmt((100 * (ts - best)) / best, 0)}%`,
  });
  const a = alone(t);
  const claim = a?.slow.claim;
  out.push({
    target: `promotion of ${fmt(t.promotion?.tasks)} due tasks: <= ${CALL_MS} ms of Redis per call (mean script time per batch of ${t.promotion?.batch ?? '?'})`,
    value: a ? `${fmt(a.scripts.perBatchUs / 1000, 2)} ms per batch; logged claim calls p99 ${fmt(claim?.p99Ms, 2)} ms, max ${fmt(claim?.maxMs, 2)} ms; ${fmt(a.promotionRate)} promotions/s` : 'no data',
    met: a ? a.scripts.perBatchUs / 1000 <= CALL_MS : null,
    margin: a ? `${fmt(a.scripts.perBatchUs / 1000 - CALL_MS, 2)} ms` : '',
  });
  const l = t.lateness;
  out.push({
    target: `due-time lateness p99 <= ${LATE_P99_MS} ms (idle worker, no monitor)`,
    value: l ? `p50 ${fmt(l.p50)} ms, p99 ${fmt(l.p99)} ms, max ${fmt(l.max)} ms` : 'no data',
    met: l ? l.p99 <= LATE_P99_MS && l.early === 0 : null,
    margin: l ? `${fmt(l.p99 - LATE_P99_MS)} ms` : '',
  });
  return out;
}

export function timeSummary(t: TimeResult | undefined): string[] {
  if (!t) return [];
  const L = ['', `Time: bulk submit of ${fmt(t.bulk.n)} (tasks/s, median): ${t.bulk.cells.map((c) => `${LIB_LABEL[c.lib]} ${fmt(c.rate)}`).join(', ')}`];
  for (const r of t.promotion?.runs ?? []) {
    L.push(`  promotion (${r.mode}): delayed set empty after ${fmt(r.promotedMs)} ms (${fmt(r.promotionRate)}/s)${r.endedMs !== undefined ? `, all ended after ${fmt(r.endedMs)} ms` : ''}`);
  }
  if (t.lateness) L.push(`  lateness p50 / p99 / max: ${t.lateness.p50} / ${t.lateness.p99} / ${t.lateness.max} ms`);
  if (t.retries) L.push(`  retries: noop ${fmt(t.retries.noopRate)}/s, flaky (attempts 3) ${fmt(t.retries.flakyRate)}/s, ratio ${fmt(t.retries.ratio, 2)}`);
  return L;
}

const calls = (c: ScriptCalls | undefined) => (c ? `${fmt(c.calls)} | ${fmt(c.p50Ms, 2)} | ${fmt(c.p99Ms, 2)} | ${fmt(c.maxMs, 2)} | ${fmt(c.over5ms)}` : '0 | — | — | — | 0');

export function timeMarkdown(t: TimeResult | undefined): string[] {
  if (!t) return [];
  const L: string[] = [];
  L.push('## Time (issue 8): bulk submit, promotion of due tasks, due-time lateness, retries');
  L.push('');
  const b = t.bulk;
  L.push(`### Bulk submit (${fmt(b.n)} no-op tasks, the whole array in one call of each library; median of ${b.repeats})`);
  L.push('');
  L.push('| library | call | tasks/s | runs | Redis CPU µs/task | producer CPU µs/task |');
  L.push('|---|---|--:|---|--:|--:|');
  const call: Record<string, string> = { 'task-swarm': '`client.submitMany`', bullmq: '`queue.addBulk`', 'bee-queue': '`queue.saveAll`' };
  for (const lib of LIBS) {
    const c = b.cells.find((x) => x.lib === lib);
    if (!c) continue;
    L.push(`| ${LIB_LABEL[lib]} | ${call[lib]} | ${fmt(c.rate)} | ${c.runs.map((r) => fmt(r.rate)).join(', ')} | ${fmt(c.redisCpuUs, 1)} | ${fmt(c.producerCpuUs, 1)} |`);
  }
  L.push('');
  const { ts, best } = bulkRates(t);
  if (ts !== null && best !== null) L.push(`Task Swarm / the faster of the other two: ${fmt(ts / best, 2)}x (target: at least 1x).`);
  for (const c of b.cells.filter((x) => x.errors.length)) L.push(`- ${LIB_LABEL[c.lib]}: ${c.errors.join('; ')}`);
  L.push('');
  const p = t.promotion;
  if (p) {
    L.push(`### Promotion (${fmt(p.tasks)} Task Swarm tasks due at one instant, one worker process at concurrency 100)`);
    L.push('');
    L.push('| run | delayed set empty after | promotions/s | all ended after | Redis script time per batch of ' + p.batch + ' |');
    L.push('|---|--:|--:|--:|--:|');
    for (const r of p.runs) {
      L.push(
        `| ${r.mode === 'alone' ? 'promotion alone (a function no worker serves)' : 'promoted and run (noop)'} | ${fmt(r.promotedMs)} ms | ${fmt(r.promotionRate)} | ${r.endedMs !== undefined ? `${fmt(r.endedMs)} ms (${fmt(r.endRate)} tasks/s)` : '—'} | ${r.mode === 'alone' ? `${fmt(r.scripts.perBatchUs / 1000, 2)} ms` : '—'} |`,
      );
    }
    L.push('');
    L.push(`Script calls that held Redis over ${p.slowlogUs} µs (SLOWLOG), by script: how many, then p50 / p99 / max of those, ms, and how many over 5 ms:`);
    L.push('');
    L.push('| run | part | script | calls over threshold | p50 | p99 | max | over 5 ms |');
    L.push('|---|---|---|--:|--:|--:|--:|--:|');
    for (const r of p.runs) {
      const parts: [string, Record<string, ScriptCalls>][] = [[r.mode === 'alone' ? 'promoting' : 'while promoting', r.slow]];
      if (r.slowAfter) parts.push(['after (same work, nothing left to promote)', r.slowAfter]);
      for (const [part, slow] of parts) {
        const names = Object.keys(slow).filter((n) => n === 'claim' || n === 'finish-claim');
        for (const n of names.length ? names : ['claim']) L.push(`| ${r.mode} | ${part} | ${n}.lua | ${calls(slow[n])} |`);
      }
    }
    const sub = p.submitSlow.submit;
    L.push(`| submit | ${fmt(p.tasks)} delayed tasks, 1,000 per call (${fmt(p.submitRate)} tasks/s) | submit.lua | ${calls(sub)} |`);
    L.push('');
    const a = alone(t);
    const run = p.runs.find((x) => x.mode === 'run');
    const during = run?.slow['finish-claim'];
    const after = run?.slowAfter?.['finish-claim'];
    if (a) {
      L.push(
        `What it means: a claim promotes at most ${p.batch} due tasks, so no call grows with the number due; a batch costs Redis about ${fmt(a.scripts.perBatchUs / 1000, 1)} ms here ` +
          `(${fmt(a.scripts.usec / p.tasks, 0)} µs per promoted task: about ten commands each), so "a few ms per call" holds on the mean, while single calls reach the maxima above when the 2 cores are busy. ` +
          `Promotion alone runs at ${fmt(a.promotionRate)} tasks/s.` +
          (run && during && after
            ? ` When the same worker also runs the tasks, promotion rides on its finish-claim calls (each ends and claims up to 100 tasks): those calls took p50 ${fmt(during.p50Ms, 1)} ms while promoting against ${fmt(after.p50Ms, 1)} ms after, ` +
              `and the delayed set empties when the worker has claimed most of the tasks (${fmt(run.promotedMs)} of ${fmt(run.endedMs)} ms), so the promotion is paced by the worker, not the other way round.`
            : '') +
          ` Submitting delayed tasks costs more than queued ones (each is written whole): a submit.lua call of 1,000 delayed tasks holds Redis longer than a promotion batch does.`,
      );
      L.push('');
    }
  }
  const l = t.lateness;
  if (l) {
    L.push(`### Due-time lateness (${fmt(l.tasks)} delayed tasks due over ${fmt(l.spreadMs[0] / 1000, 1)}..${fmt(l.spreadMs[1] / 1000, 1)} s, one idle worker at concurrency 50, no monitor)`);
    L.push('');
    L.push('| p50 | p90 | p99 | max | started early |');
    L.push('|--:|--:|--:|--:|--:|');
    L.push(`| ${fmt(l.p50)} ms | ${fmt(l.p90)} ms | ${fmt(l.p99)} ms | ${fmt(l.max)} ms | ${fmt(l.early)} |`);
    L.push('');
  }
  const r = t.retries;
  if (r) {
    L.push(`### Retries (drain of ${fmt(r.n)} at concurrency ${r.concurrency}, one worker process)`);
    L.push('');
    L.push('| tasks | tasks/s (median) | runs |');
    L.push('|---|--:|---|');
    L.push(`| noop, no options | ${fmt(r.noopRate)} | ${r.noop.map((x) => fmt(x)).join(', ')} |`);
    L.push(`| flaky (one in ten fails its first attempt), \`attempts: 3\`, backoff 0 | ${fmt(r.flakyRate)} | ${r.flaky.map((x) => fmt(x)).join(', ')} |`);
    L.push('');
    L.push(
      `Ratio flaky / noop: ${fmt(r.ratio, 2)}; attempts per flaky task (from the hashes): ${fmt(r.attemptsPerTask, 2)} (1.10 expected).${r.errors.length ? ` ${r.errors.join('; ')}.` : ''} ` +
        'A retry with backoff 0 is one more claim and end for 10% of the tasks (through DELAYED and a promotion), so about 0.9x is what the work predicts; compare the ratio with the spread of the runs column, which is the machine\'s noise.',
    );
    L.push('');
  }
  if (t.errors.length) {
    for (const e of t.errors) L.push(`- did not complete: ${e}`);
    L.push('');
  }
  L.push(`How measured: one private redis-server, flushed before each run. *Bulk submit*: each library's bulk call with the whole array (Task Swarm's \`submitMany\` sends it to submit.lua 1,000 tasks per call, one after the other; BullMQ's \`addBulk\` sends one MULTI of ${fmt(b.n)} job scripts; Bee-Queue's \`saveAll\` (it exists in 2.0.0) one pipeline of ${fmt(b.n)} job scripts), timed from the call, building the job objects included, to its resolution; the queue's length is checked after; one unrecorded warm-up call of 2,000 per library, runs interleaved across the libraries; Redis CPU is INFO cpu (user + sys) over the call, producer CPU \`process.cpuUsage()\` of the bench process. ` +
    `*Promotion*: the tasks are submitted with \`submitMany\` and one \`runAt\` computed from Redis's TIME, far enough ahead for the submit to end first; the worker child is started (idle) before the due time; the bench polls Redis's TIME, \`ZCARD new-task:delayed:placed\` and \`LLEN tasks:ended\` every 5 ms; times are on Redis's clock from the due time. "Promotion alone" submits the tasks under a function no worker serves, so the claims only promote (${p?.batch ?? 200} per claim, and the worker claims again at once while more are due): its script time per batch is the EVALSHA time of INFO commandstats over the run divided by the batches (the cheap ready.lua calls between waits included). SLOWLOG logs every command over ${p?.slowlogUs ?? 250} µs (scripts named by the sha1 of their source; only calls over the threshold are counted, so p50 is of those); its timestamps are whole seconds, so "while promoting" and "after" leave out the second the delayed set emptied. ` +
    `*Lateness*: due times \`TIME\` + 0.2..4 s, evenly spread, submitted as \`runAt\` to an idle worker (default \`fetchTaskInterval\`); lateness is the hash's \`start\` (Redis ms of the claim) minus the task's due time. ` +
    `*Retries*: the tasks are queued first with \`submitMany\` (not timed), then the worker is started; timed from its start command to the last end in \`tasks:ended\` (a retry is not an end); noop and flaky drains alternate, after an unrecorded warm-up of 1,000 of each. ` +
    'The machine has 2 cores shared with other work: SLOWLOG durations are wall time in Redis and include time the redis-server process was descheduled (a single ZADD logged at several ms shows it), so maxima are noisy; medians are what to compare.');
  L.push('');
  return L;
}
