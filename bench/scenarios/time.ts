/**
 * Scenario `time` (issue 8's numbers), four parts:
 *
 * 1. Bulk submit: N no-op tasks queued in one call of each library's bulk API, the whole array
 *    (Task Swarm `client.submitMany`, which sends it to submit.lua 1,000 per call; BullMQ
 *    `queue.addBulk`, one MULTI of N addStandardJob scripts; Bee-Queue `queue.saveAll` of N
 *    `createJob`s, one pipeline of N addJob scripts). Timed from the call (building the jobs
 *    included) to its resolution; Redis CPU (INFO cpu) and command time (INFO commandstats)
 *    over the same span; Redis flushed before each run; one unrecorded warm-up per library;
 *    repeats interleaved across libraries.
 * 2. Promotion (Task Swarm): P tasks submitted with one `runAt` on Redis's clock, far enough
 *    ahead for the submit to finish; one worker child (concurrency 100, noop) idle when they
 *    fall due. Measured on Redis's clock from the due time until `new-task:delayed:placed` is empty,
 *    and until all have ended; SLOWLOG (threshold SLOWLOG_US) gives the longest script calls.
 * 3. Due-time lateness (Task Swarm): L tasks with due times spread evenly over 0.2..4 s from
 *    Redis's TIME (`runAt`), one idle worker child (concurrency 50, default fetchTaskInterval),
 *    no monitor; lateness = the hash's `start` (Redis ms of the claim) - the due time.
 * 4. Retries (Task Swarm): a drain of R tasks at concurrency 10 (one worker child), `flaky`
 *    tasks with `attempts: 3` (backoff 0; one in ten fails its first attempt) against `noop`
 *    tasks without options; drains interleaved; the ratio of the medians.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { LIBS, LIB_LABEL, QUEUE, type LibName, type RedisAddr } from '../lib/libs.js';
import { spawnChildren, type WorkerChild } from '../lib/children.js';
import { commandStats, info, resetRedis } from '../lib/redis.js';
import { median, nowMs, percentile, round, sleep, until } from '../lib/timing.js';
import { check, timeLeft, type Ctx } from '../lib/context.js';
import { resolveRedisConfig } from '../../src/config.js';
import { buildKeys } from '../../src/keys.js';

const keys = buildKeys(resolveRedisConfig({}));
/** SLOWLOG threshold during the promotion runs, µs */
export const SLOWLOG_US = 250;
/** due tasks a claim promotes (claim.lua's PROMOTE_BATCH) */
const PROMOTE_BATCH = Number(/local PROMOTE_BATCH = (\d+)/.exec(readFileSync(new URL('../../src/lua/claim.lua', import.meta.url), 'utf8'))?.[1] ?? NaN);

export interface BulkRun {
  ms: number;
  rate: number;
  /** redis-server CPU (user + sys), µs per task */
  redisCpuUs: number;
  /** CPU of the bench process (the producer) during the call, µs per task */
  producerCpuUs: number;
}
export interface BulkCell {
  lib: LibName;
  runs: BulkRun[];
  rate: number | null;
  redisCpuUs: number | null;
  producerCpuUs: number | null;
  errors: string[];
}
/** SLOWLOG entries of one script (only the calls over the threshold are logged) */
export interface ScriptCalls {
  /** calls over the threshold */
  calls: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** of them, how many took over 5 ms */
  over5ms: number;
}
export interface PromotionRun {
  /** 'alone': the tasks' function is served by no worker (the claims only promote); 'run': they are run */
  mode: 'alone' | 'run';
  tasks: number;
  /** Redis ms from the due time until new-task:delayed:placed was empty / every task had ended ('run') */
  promotedMs: number;
  endedMs?: number;
  /** tasks per second */
  promotionRate: number;
  endRate?: number;
  /** how long before the due time the submit had ended (ms) */
  submitSlackMs: number;
  /** every EVALSHA from the due time on (INFO commandstats): calls, and µs of script time per promotion batch */
  scripts: { calls: number; usec: number; perBatchUs: number };
  /** SLOWLOG script calls from the due time until the delayed set was empty, by script name */
  slow: Record<string, ScriptCalls>;
  /** 'run': the same after the delayed set was empty (the same work without promotion) */
  slowAfter?: Record<string, ScriptCalls>;
}
export interface PromotionResult {
  tasks: number;
  batch: number;
  slowlogUs: number;
  runs: PromotionRun[];
  /** the submits of the delayed tasks (submit.lua, 1,000 per call), SLOWLOG by script */
  submitSlow: Record<string, ScriptCalls>;
  /** delayed tasks submitted per second (submitMany, 100,000) */
  submitRate: number;
}
export interface LatenessResult {
  tasks: number;
  spreadMs: [number, number];
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** tasks that started before their due time (must be 0) */
  early: number;
}
export interface RetryResult {
  n: number;
  concurrency: number;
  noop: number[];
  flaky: number[];
  noopRate: number | null;
  flakyRate: number | null;
  ratio: number | null;
  /** attempts run per flaky task (history), expected 1.1 */
  attemptsPerTask: number | null;
  errors: string[];
}
export interface TimeResult {
  bulk: { n: number; repeats: number; batch: string; cells: BulkCell[] };
  promotion?: PromotionResult;
  lateness?: LatenessResult;
  retries?: RetryResult;
  errors: string[];
}

/* ---------------------------------------------------------------- helpers */

async function redisCpuUs(r: Redis): Promise<number> {
  const c = await info(r, 'cpu');
  return (Number(c.used_cpu_user) + Number(c.used_cpu_sys)) * 1e6;
}

/** Redis's clock, ms */
async function redisNow(r: Redis): Promise<number> {
  const [s, us] = await r.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

const ended = (r: Redis) => r.llen(keys.ended);

interface SlowEntry {
  /** unix seconds */
  at: number;
  us: number;
  name: string;
}

/** SLOWLOG script calls (Task Swarm's FCALLs, named by their function: `ts_<hash>_<script>`) */
async function slowScripts(admin: Redis): Promise<SlowEntry[]> {
  const entries = (await admin.slowlog('GET', 1_000_000)) as [number, number, number, string[]][];
  return entries
    .filter((e) => /^fcall/i.test(String(e[3][0])))
    .map((e) => ({ at: Number(e[1]), us: Number(e[2]), name: String(e[3][1]).replace(/^ts_[0-9a-f]+_/, '').replace(/_/g, '-') }));
}

function byScript(entries: SlowEntry[]): Record<string, ScriptCalls> {
  const us = new Map<string, number[]>();
  for (const e of entries) us.set(e.name, [...(us.get(e.name) ?? []), e.us]);
  const out: Record<string, ScriptCalls> = {};
  for (const [name, xs] of us) {
    out[name] = { calls: xs.length, p50Ms: round(percentile(xs, 50) / 1000, 2), p99Ms: round(percentile(xs, 99) / 1000, 2), maxMs: round(Math.max(...xs) / 1000, 2), over5ms: xs.filter((x) => x > 5000).length };
  }
  return out;
}

async function slowlogOn(admin: Redis): Promise<void> {
  await admin.config('SET', 'slowlog-max-len', '100000');
  await admin.config('SET', 'slowlog-log-slower-than', String(SLOWLOG_US));
  await admin.slowlog('RESET');
}

async function slowlogOff(admin: Redis): Promise<void> {
  await admin.config('SET', 'slowlog-log-slower-than', '10000');
  await admin.slowlog('RESET');
}

/* ---------------------------------------------------------------- 1. bulk submit */

interface BulkProducer {
  /** queue tasks 0..n-1 (noop) in one bulk call; the job objects are built inside */
  bulk(n: number, offset: number): Promise<void>;
  close(): Promise<void>;
}

async function bulkProducer(lib: LibName, addr: RedisAddr): Promise<BulkProducer> {
  switch (lib) {
    case 'task-swarm': {
      const { Client } = await import('../../src/index.js');
      const client = new Client({ redis: { host: addr.host, port: addr.port } });
      return {
        bulk: async (n, offset) => {
          const tasks = Array.from({ length: n }, (_, i) => ({ fn: 'noop', data: { i: offset + i } }));
          const ids = await client.submitMany(tasks);
          if (ids.length !== n) throw new Error(`submitMany answered ${ids.length} ids for ${n} tasks`);
        },
        close: () => client.close(),
      };
    }
    case 'bullmq': {
      const { Queue } = await import('bullmq');
      const queue = new Queue(QUEUE, { connection: { host: addr.host, port: addr.port } });
      await queue.waitUntilReady();
      return {
        bulk: async (n, offset) => {
          const jobs = await queue.addBulk(Array.from({ length: n }, (_, i) => ({ name: 'noop', data: { i: offset + i } })));
          if (jobs.length !== n) throw new Error(`addBulk answered ${jobs.length} jobs for ${n}`);
        },
        close: () => queue.close(),
      };
    }
    case 'bee-queue': {
      const BeeQueue = (await import('bee-queue')).default;
      const queue = new BeeQueue(QUEUE, { redis: { host: addr.host, port: addr.port }, isWorker: false, getEvents: false });
      await queue.ready();
      return {
        bulk: async (n, offset) => {
          const errors = await queue.saveAll(Array.from({ length: n }, (_, i) => queue.createJob({ fn: 'noop', i: offset + i })));
          if (errors.size) throw new Error(`saveAll: ${errors.size} jobs failed: ${[...errors.values()][0]?.message}`);
        },
        close: () => queue.close(),
      };
    }
  }
}

async function queuedCount(lib: LibName, r: Redis): Promise<number> {
  if (lib === 'task-swarm') return r.llen(keys.newQueue);
  if (lib === 'bullmq') return r.llen(`bull:${QUEUE}:wait`);
  return r.llen(`bq:${QUEUE}:waiting`);
}

export async function bulkSubmit(ctx: Ctx, n: number, repeats: number): Promise<TimeResult['bulk']> {
  const cells: BulkCell[] = LIBS.map((lib) => ({ lib, runs: [], rate: null, redisCpuUs: null, producerCpuUs: null, errors: [] }));
  const producers = new Map<LibName, BulkProducer>();
  try {
    for (const lib of LIBS) {
      const p = await bulkProducer(lib, ctx.addr);
      producers.set(lib, p);
      // warm-up: connections made, scripts loaded, code paths compiled
      await resetRedis(ctx.redis.admin);
      await p.bulk(2_000, 0);
    }
    for (let r = 0; r < repeats; r++) {
      for (const lib of LIBS) {
        const cell = cells.find((c) => c.lib === lib)!;
        if (timeLeft(ctx) < 50_000) {
          cell.errors.push(`run ${r + 1} skipped: out of time budget`);
          continue;
        }
        check(ctx);
        try {
          await resetRedis(ctx.redis.admin);
          const cpu0 = await redisCpuUs(ctx.redis.admin);
          const p0 = process.cpuUsage();
          const t0 = nowMs();
          await producers.get(lib)!.bulk(n, 0);
          const ms = nowMs() - t0;
          const p1 = process.cpuUsage(p0);
          const cpu = (await redisCpuUs(ctx.redis.admin)) - cpu0;
          const q = await queuedCount(lib, ctx.redis.admin);
          if (q !== n) throw new Error(`${q} queued after the call, not ${n}`);
          const run = { ms: round(ms, 1), rate: round((n * 1000) / ms, 0), redisCpuUs: round(cpu / n, 2), producerCpuUs: round((p1.user + p1.system) / n, 2) };
          cell.runs.push(run);
          ctx.log(`  bulk ${LIB_LABEL[lib].padEnd(10)} run ${r + 1}: ${run.rate} tasks/s (${run.ms} ms; µs per task: Redis CPU ${run.redisCpuUs}, producer CPU ${run.producerCpuUs})`);
        } catch (e) {
          check(ctx);
          cell.errors.push(`run ${r + 1}: ${(e as Error).message}`);
          ctx.log(`  bulk ${LIB_LABEL[lib]} run ${r + 1} FAILED: ${(e as Error).message}`);
        }
      }
    }
  } finally {
    await Promise.allSettled([...producers.values()].map((p) => p.close()));
  }
  for (const c of cells) {
    const med = (f: (r: BulkRun) => number, d: number) => (c.runs.length ? round(median(c.runs.map(f)), d) : null);
    c.rate = med((r) => r.rate, 0);
    c.redisCpuUs = med((r) => r.redisCpuUs, 2);
    c.producerCpuUs = med((r) => r.producerCpuUs, 2);
  }
  return { n, repeats, batch: 'the whole array', cells };
}

/* ---------------------------------------------------------------- Task Swarm helpers */

type TsClient = InstanceType<(typeof import('../../src/index.js'))['Client']>;

async function tsClient(addr: RedisAddr): Promise<TsClient> {
  const { Client } = await import('../../src/index.js');
  return new Client({ redis: { host: addr.host, port: addr.port } });
}

/** submit in chunks of 10,000 (submitMany would take the whole array; chunks keep the bench process's memory flat) */
async function submitChunks(client: TsClient, n: number, make: (i: number) => { fn: string; data: unknown; options?: Record<string, unknown> }): Promise<void> {
  for (let i = 0; i < n; i += 10_000) {
    await client.submitMany(Array.from({ length: Math.min(10_000, n - i) }, (_, j) => make(i + j)));
  }
}

/* ---------------------------------------------------------------- 2. promotion */

/** a function no worker serves: its due tasks are promoted by claims that take nothing */
const NOBODY = 'unserved';

async function promoteOnce(ctx: Ctx, client: TsClient, kid: WorkerChild, mode: PromotionRun['mode'], tasks: number, submitSlow: SlowEntry[], submitMs: number[]): Promise<PromotionRun> {
  const admin = ctx.redis.admin;
  await resetRedis(admin);
  // The due time must be far enough ahead for the whole submit to end before it: the rate of a
  // submit of delayed tasks, from a small one, with a margin for the machine's noise.
  const c0 = nowMs();
  await submitChunks(client, 5_000, (i) => ({ fn: NOBODY, data: { i }, options: { delay: 3_600_000 } }));
  const expectMs = ((nowMs() - c0) * tasks) / 5_000;
  await resetRedis(admin);
  const dueAt = (await redisNow(admin)) + Math.round(1.5 * expectMs) + 1_000;
  const fn = mode === 'alone' ? NOBODY : 'noop';
  await slowlogOn(admin);
  const s0 = nowMs();
  await submitChunks(client, tasks, (i) => ({ fn, data: { i }, options: { runAt: dueAt } }));
  submitMs.push(nowMs() - s0);
  submitSlow.push(...(await slowScripts(admin)));
  const submitSlackMs = dueAt - (await redisNow(admin));
  const delayed = await admin.zcard(keys.placedDelayed);
  if (delayed !== tasks) throw new Error(`${delayed} tasks delayed after the submit, not ${tasks} (the submit ended ${-submitSlackMs} ms after the due time)`);
  await kid.start({ lib: 'task-swarm', redis: ctx.addr, concurrency: 100 });
  await sleep(Math.max(0, dueAt - (await redisNow(admin)) - 300));
  await slowlogOn(admin);
  await admin.config('RESETSTAT');
  let promotedAt = -1;
  let endedAt = -1;
  try {
    await until(
      async () => {
        const [[, t], [, d], [, e]] = (await ctx.poll.multi().time().zcard(keys.placedDelayed).llen(keys.ended).exec()) as [[unknown, [string, string]], [unknown, number], [unknown, number]];
        const now = Number(t[0]) * 1000 + Math.floor(Number(t[1]) / 1000);
        if (promotedAt < 0 && d === 0 && now >= dueAt) promotedAt = now;
        if (e >= tasks) endedAt = now;
        return mode === 'alone' ? promotedAt >= 0 : endedAt >= 0;
      },
      5_000 + 120_000,
      `promotion (${mode}): ${mode === 'alone' ? 'delayed set empty' : 'every task ended'}`,
      5,
      () => ctx.cancelled,
    );
  } finally {
    await kid.stop().catch(() => {});
  }
  const ev = (await commandStats(admin)).fcall ?? { calls: 0, usec: 0 };
  const slow = await slowScripts(admin);
  await slowlogOff(admin);
  // SLOWLOG stamps are whole seconds: the second the delayed set emptied is in neither part
  const cut = Math.floor(promotedAt / 1000);
  const promotedMs = promotedAt - dueAt;
  const run: PromotionRun = {
    mode,
    tasks,
    promotedMs,
    promotionRate: round((tasks * 1000) / Math.max(1, promotedMs), 0),
    submitSlackMs,
    scripts: { calls: ev.calls, usec: ev.usec, perBatchUs: round(ev.usec / Math.ceil(tasks / PROMOTE_BATCH), 0) },
    slow: byScript(slow.filter((e) => e.at < cut)),
  };
  if (mode === 'run') {
    run.endedMs = endedAt - dueAt;
    run.endRate = round((tasks * 1000) / Math.max(1, run.endedMs), 0);
    run.slowAfter = byScript(slow.filter((e) => e.at > cut));
  }
  return run;
}

export async function promotion(ctx: Ctx, tasks: number, modes: PromotionRun['mode'][] = ['alone', 'run']): Promise<PromotionResult> {
  const [kid] = await spawnChildren('task-swarm', 1);
  const client = await tsClient(ctx.addr);
  const submitSlow: SlowEntry[] = [];
  const submitMs: number[] = [];
  const runs: PromotionRun[] = [];
  try {
    for (const mode of modes) {
      check(ctx);
      const r = await promoteOnce(ctx, client, kid!, mode, tasks, submitSlow, submitMs);
      runs.push(r);
      const worst = Object.entries(r.slow).sort((a, b) => b[1].maxMs - a[1].maxMs)[0];
      ctx.log(
        `  promotion (${mode}): delayed set empty ${r.promotedMs} ms after the due time (${r.promotionRate}/s)` +
          `${r.endedMs !== undefined ? `, all ended after ${r.endedMs} ms (${r.endRate}/s)` : ''}; script time per batch of ${PROMOTE_BATCH} ${r.scripts.perBatchUs} µs; ` +
          `longest call ${worst ? `${worst[0]} ${worst[1].maxMs} ms (p50 of those over ${SLOWLOG_US} µs: ${worst[1].p50Ms} ms)` : `< ${SLOWLOG_US} µs`}`,
      );
    }
  } finally {
    await kid!.exit(3000);
    await client.close();
  }
  return {
    tasks,
    batch: PROMOTE_BATCH,
    slowlogUs: SLOWLOG_US,
    runs,
    submitSlow: byScript(submitSlow),
    submitRate: round((tasks * 1000) / median(submitMs), 0),
  };
}

/* ---------------------------------------------------------------- 3. lateness */

export async function lateness(ctx: Ctx, tasks: number, spread: [number, number]): Promise<LatenessResult> {
  const admin = ctx.redis.admin;
  await resetRedis(admin);
  const [kid] = await spawnChildren('task-swarm', 1);
  const client = await tsClient(ctx.addr);
  try {
    await kid!.start({ lib: 'task-swarm', redis: ctx.addr, concurrency: 50 });
    await sleep(300); // the worker's first claim found nothing: it is idle, waiting
    const t0 = await redisNow(admin);
    const due = Array.from({ length: tasks }, (_, i) => t0 + spread[0] + Math.floor((i * (spread[1] - spread[0])) / tasks));
    const ids = await client.submitMany(due.map((at, i) => ({ fn: 'noop', data: { i }, options: { runAt: at } })));
    const late = (await redisNow(admin)) - due[0]!;
    if (late >= 0) throw new Error(`the submit ended ${late} ms after the first due time`);
    await until(async () => (await ended(ctx.poll)) >= tasks, spread[1] + 30_000, 'lateness: every task ended', 20, () => ctx.cancelled);
    const pipe = admin.pipeline();
    for (const id of ids) pipe.hget(keys.task(id), 'start');
    const starts = ((await pipe.exec()) ?? []).map(([, v]) => Number(v));
    const lat = starts.map((s, i) => s - due[i]!);
    if (lat.some((x) => !Number.isFinite(x))) throw new Error('a task hash has no start');
    return {
      tasks,
      spreadMs: spread,
      p50: percentile(lat, 50),
      p90: percentile(lat, 90),
      p99: percentile(lat, 99),
      max: Math.max(...lat),
      early: lat.filter((x) => x < 0).length,
    };
  } finally {
    await kid!.stop().catch(() => {});
    await kid!.exit(3000);
    await client.close();
  }
}

/* ---------------------------------------------------------------- 4. retries */

export async function retries(ctx: Ctx, n: number, repeats: number): Promise<RetryResult> {
  const admin = ctx.redis.admin;
  const concurrency = 10;
  const out: RetryResult = { n, concurrency, noop: [], flaky: [], noopRate: null, flakyRate: null, ratio: null, attemptsPerTask: null, errors: [] };
  const [kid] = await spawnChildren('task-swarm', 1);
  const client = await tsClient(ctx.addr);
  const attempts: number[] = [];
  try {
    const drain = async (kind: 'noop' | 'flaky', count: number): Promise<number> => {
      await resetRedis(admin);
      await submitChunks(client, count, (i) => (kind === 'noop' ? { fn: 'noop', data: { i } } : { fn: 'flaky', data: { i }, options: { attempts: 3, backoff: 0 } }));
      const t0 = nowMs();
      await kid!.start({ lib: 'task-swarm', redis: ctx.addr, concurrency });
      await until(async () => (await ended(ctx.poll)) >= count, 10_000 + count, `retries: ${kind} drain`, 5, () => ctx.cancelled);
      const ms = nowMs() - t0;
      await kid!.stop();
      if (kind === 'flaky' && count === n) {
        // every flaky task ended succeeded, i % 10 === 0 after two attempts
        const ids = (await admin.lrange(keys.ended, 0, -1)).slice(0, 2_000);
        const pipe = admin.pipeline();
        for (const id of ids) pipe.hmget(keys.task(id), 'attempt', 'outcome');
        const rows = ((await pipe.exec()) ?? []).map(([, v]) => v as [string, string]);
        const bad = rows.filter((x) => x[1] !== 'succeeded').length;
        if (bad) throw new Error(`${bad} of ${rows.length} flaky tasks did not end succeeded`);
        attempts.push(rows.reduce((a, x) => a + Number(x[0]), 0) / rows.length);
      }
      return round((count * 1000) / ms, 0);
    };
    // warm-up (unrecorded): both kinds once, small
    await drain('noop', 1_000);
    await drain('flaky', 1_000);
    let pairMs = 0;
    for (let r = 0; r < repeats; r++) {
      // a pair (noop, flaky) is measured whole or not at all, so the ratio compares like with like
      if (r > 0 && timeLeft(ctx) < pairMs) {
        out.errors.push(`${repeats - r} of ${repeats} pairs skipped: out of time budget`);
        break;
      }
      const p0 = nowMs();
      for (const kind of ['noop', 'flaky'] as const) {
        check(ctx);
        try {
          const rate = await drain(kind, n);
          out[kind].push(rate);
          ctx.log(`  retries ${kind.padEnd(5)} run ${r + 1}: ${rate} tasks/s`);
        } catch (e) {
          check(ctx);
          out.errors.push(`${kind} run ${r + 1}: ${(e as Error).message}`);
          ctx.log(`  retries ${kind} run ${r + 1} FAILED: ${(e as Error).message}`);
          await kid!.stop().catch(() => {});
        }
      }
      pairMs = nowMs() - p0;
    }
  } finally {
    await kid!.exit(3000);
    await client.close();
  }
  out.noopRate = out.noop.length ? round(median(out.noop), 0) : null;
  out.flakyRate = out.flaky.length ? round(median(out.flaky), 0) : null;
  out.ratio = out.noopRate && out.flakyRate ? round(out.flakyRate / out.noopRate, 3) : null;
  out.attemptsPerTask = attempts.length ? round(median(attempts), 3) : null;
  return out;
}

/* ---------------------------------------------------------------- the scenario */

export interface TimeOpts {
  /** bulk submit: tasks per call */
  bulk: number;
  repeats: number;
  /** promotion: tasks due at one instant */
  promote: number;
  /** lateness: tasks, and the spread of their due times (ms from now) */
  late: number;
  spread: [number, number];
  /** retries: tasks per drain */
  retry: number;
}

export async function time(ctx: Ctx, o: TimeOpts): Promise<TimeResult> {
  const errors: string[] = [];
  const bulk = await bulkSubmit(ctx, o.bulk, o.repeats);
  const part = async <T>(name: string, fn: () => Promise<T>): Promise<T | undefined> => {
    check(ctx);
    try {
      return await fn();
    } catch (e) {
      check(ctx);
      errors.push(`${name}: ${(e as Error).message}`);
      ctx.log(`  ${name} FAILED: ${(e as Error).message}`);
      return undefined;
    }
  };
  const promo = await part('promotion', () => promotion(ctx, o.promote));
  const late = await part('lateness', () => lateness(ctx, o.late, o.spread));
  if (late) ctx.log(`  lateness (ms): p50 ${late.p50}, p90 ${late.p90}, p99 ${late.p99}, max ${late.max}; early ${late.early}`);
  const retry = await part('retries', () => retries(ctx, o.retry, o.repeats));
  if (retry) ctx.log(`  retries: noop ${retry.noopRate}/s, flaky attempts:3 ${retry.flakyRate}/s, ratio ${retry.ratio}`);
  return { bulk, promotion: promo, lateness: late, retries: retry, errors };
}
