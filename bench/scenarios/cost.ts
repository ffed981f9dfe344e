/**
 * Scenario 4, Redis cost per task. For each library, at concurrency 1, 10 and 100 (one worker
 * process): N tasks are queued (directly), then one worker child drains them through a
 * counting TCP proxy (bench/proxy.ts). Per task:
 *   roundTrips     request flights the worker sent (chunks the proxy read from the worker's
 *                  connections; pipelined commands that travel together count once)
 *   commands       top-level commands the worker sent (SLOWLOG with log-slower-than 0; an
 *                  EVALSHA is one), and all commands Redis ran including those inside scripts
 *                  (INFO commandstats delta)
 *   redisUs        Redis time per task (sum of SLOWLOG durations), and where it goes, by
 *                  command/script
 * For the producer side: commands per submit. The bench's own polling and INFO/CONFIG/SLOWLOG
 * commands are excluded. Each count is the median over the repeats.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LIBS, LIB_LABEL, completedCount, createProducer, submitMany, type LibName } from '../lib/libs.js';
import { spawnChildren, type WorkerChild } from '../lib/children.js';
import { commandStats, info, resetRedis } from '../lib/redis.js';
import { commandName, scriptIndex, type ScriptIndex } from '../lib/scripts.js';
import { median, round, until, withTimeout } from '../lib/timing.js';
import { check, timeLeft, type Ctx } from '../lib/context.js';
import type { Redis } from 'ioredis';

export interface CommandShare {
  command: string;
  perTask: number;
  avgUs: number;
  /** % of Redis time spent in the worker's commands */
  pctTime: number;
}

export interface CostCell {
  lib: LibName;
  concurrency: number;
  n: number;
  roundTrips: number | null;
  replyFlights: number | null;
  topLevelCommands: number | null;
  allCommands: number | null;
  redisUs: number | null;
  netBytes: number | null;
  byCommand: CommandShare[];
  /** commands run inside scripts, per task */
  innerCommands: { command: string; perTask: number }[];
  errors: string[];
}

export interface CostResult {
  n: number;
  repeats: number;
  cells: CostCell[];
  producer: Record<LibName, { topLevelCommands: number; allCommands: number; memPerTask: number } | null>;
}

const BENCH_CLIENTS = new Set(['bench-poll', 'bench-admin']);
const EXCLUDED = /^(info|config|slowlog|client|hello|select|ping|quit|command)\b/;

interface SlowEntry {
  name: string;
  us: number;
  client: string;
  /** run by a script (SLOWLOG shows the Lua client's address `?:0`), not sent by a client */
  inner: boolean;
}

/** SLOWLOG entries (oldest first) other than the bench's own and admin commands */
async function slowlog(redis: Redis, idx: ScriptIndex): Promise<SlowEntry[]> {
  const raw = (await redis.call('SLOWLOG', 'GET', '-1')) as [number, number, number, string[], string, string][];
  return raw
    .map((e) => ({ name: commandName(e[3], idx), us: Number(e[2]), client: e[5] ?? '', inner: e[4] === '?:0' }))
    .filter((e) => !BENCH_CLIENTS.has(e.client) && !EXCLUDED.test(e.name))
    .reverse();
}

class Proxy {
  private readonly proc: ChildProcess;
  private constructor(proc: ChildProcess) {
    this.proc = proc;
  }
  static async start(host: string, port: number): Promise<{ proxy: Proxy; port: number }> {
    const proc = fork(fileURLToPath(new URL('../proxy.ts', import.meta.url)), [host, String(port)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const p = new Proxy(proc);
    const m = await p.ask(null, 'listening');
    return { proxy: p, port: m.port as number };
  }
  ask(cmd: string | null, type: string): Promise<Record<string, number>> {
    return withTimeout(
      new Promise((resolve) => {
        const on = (m: Record<string, number> & { type: string }) => {
          if (m.type !== type) return;
          this.proc.off('message', on);
          resolve(m);
        };
        this.proc.on('message', on);
        if (cmd) this.proc.send({ cmd });
      }),
      10_000,
      `proxy ${type}`,
    );
  }
  close() {
    this.proc.kill();
  }
}

function sumCalls(delta: Record<string, { calls: number; usec: number }>): number {
  let s = 0;
  for (const [k, v] of Object.entries(delta)) if (!EXCLUDED.test(k.replace('|', ' '))) s += v.calls;
  return s;
}

function diff(a: Record<string, { calls: number; usec: number }>, b: Record<string, { calls: number; usec: number }>) {
  const out: Record<string, { calls: number; usec: number }> = {};
  for (const [k, v] of Object.entries(b)) {
    const c = v.calls - (a[k]?.calls ?? 0);
    if (c > 0) out[k] = { calls: c, usec: v.usec - (a[k]?.usec ?? 0) };
  }
  return out;
}

const POLL_COMMAND: Record<LibName, string> = { 'task-swarm': 'llen', bullmq: 'zcard', 'bee-queue': 'scard' };

async function runOnce(ctx: Ctx, lib: LibName, kid: WorkerChild, proxy: Proxy, proxyPort: number, concurrency: number, n: number, idx: ScriptIndex) {
  const admin = ctx.redis.admin;
  await resetRedis(admin);
  await admin.config('SET', 'slowlog-log-slower-than', '0');
  await admin.config('SET', 'slowlog-max-len', '1000000');
  await admin.slowlog('RESET');
  const producer = await createProducer(lib, ctx.addr);
  const mem0 = Number((await info(admin, 'memory')).used_memory);
  await submitMany(producer, 'noop', n);
  const mem1 = Number((await info(admin, 'memory')).used_memory);
  await producer.close();
  const prodSlow = (await slowlog(admin, idx)).filter((e) => !e.inner);
  const prodAll = sumCalls(await commandStats(admin));
  const producerCost = { topLevelCommands: round(prodSlow.length / n, 2), allCommands: round(prodAll / n, 2), memPerTask: round((mem1 - mem0) / n, 0) };

  // Worker side, through the proxy.
  await admin.config('RESETSTAT');
  await admin.slowlog('RESET');
  await proxy.ask('reset', 'reset');
  const net0 = await info(admin, 'stats');
  const before = await commandStats(admin);
  let polls = 0;
  await kid.start({ lib, redis: { host: '127.0.0.1', port: proxyPort }, concurrency });
  await until(
    async () => {
      polls++;
      return (await completedCount(lib, ctx.poll)) >= n;
    },
    60_000,
    `${lib} drain of ${n} through the proxy`,
    5,
    () => ctx.cancelled,
  );
  const flights = await proxy.ask('stats', 'stats');
  const after = await commandStats(admin);
  const net1 = await info(admin, 'stats');
  const logged = await slowlog(admin, idx);
  const slow = logged.filter((e) => !e.inner);
  await kid.stop();
  await admin.config('SET', 'slowlog-log-slower-than', '10000');
  await admin.config('SET', 'slowlog-max-len', '128');
  await admin.slowlog('RESET');

  const delta = diff(before, after);
  const pollCmd = POLL_COMMAND[lib];
  if (delta[pollCmd]) delta[pollCmd]!.calls -= polls;
  const all = sumCalls(delta);
  const byName = new Map<string, { calls: number; us: number }>();
  let totalUs = 0;
  for (const e of slow) {
    const a = byName.get(e.name) ?? { calls: 0, us: 0 };
    a.calls++;
    a.us += e.us;
    byName.set(e.name, a);
    totalUs += e.us;
  }
  const byCommand: CommandShare[] = [...byName.entries()]
    .sort((x, y) => y[1].us - x[1].us)
    .map(([command, a]) => ({ command, perTask: round(a.calls / n, 3), avgUs: round(a.us / a.calls, 1), pctTime: round((100 * a.us) / Math.max(1, totalUs), 1) }));
  const inner = new Map<string, number>();
  for (const e of logged) if (e.inner) inner.set(e.name, (inner.get(e.name) ?? 0) + 1);
  const innerCommands = [...inner.entries()].sort((x, y) => y[1] - x[1]).map(([command, calls]) => ({ command, perTask: round(calls / n, 3) }));
  const netBytes = Number(net1.total_net_input_bytes) - Number(net0.total_net_input_bytes) + Number(net1.total_net_output_bytes) - Number(net0.total_net_output_bytes);
  return {
    producerCost,
    cell: {
      roundTrips: round(flights.requests! / n, 3),
      replyFlights: round(flights.replies! / n, 3),
      topLevelCommands: round(slow.length / n, 3),
      allCommands: round(all / n, 2),
      redisUs: round(totalUs / n, 1),
      netBytes: round(netBytes / n, 0),
      byCommand,
      innerCommands,
    },
  };
}

type Measured = Awaited<ReturnType<typeof runOnce>>['cell'];
const NUMERIC = ['roundTrips', 'replyFlights', 'topLevelCommands', 'allCommands', 'redisUs', 'netBytes'] as const;

export async function cost(ctx: Ctx, opts: { n: number; repeats: number; concurrencies?: number[] }): Promise<CostResult> {
  const idx = await scriptIndex();
  const { proxy, port } = await Proxy.start(ctx.addr.host, ctx.addr.port);
  const concurrencies = opts.concurrencies ?? [1, 10, 100];
  const cells: (CostCell & { runs: Measured[] })[] = [];
  for (const lib of LIBS) {
    for (const concurrency of concurrencies) {
      cells.push({
        lib,
        concurrency,
        n: opts.n,
        roundTrips: null,
        replyFlights: null,
        topLevelCommands: null,
        allCommands: null,
        redisUs: null,
        netBytes: null,
        byCommand: [],
        innerCommands: [],
        errors: [],
        runs: [],
      });
    }
  }
  const producer: CostResult['producer'] = { 'task-swarm': null, bullmq: null, 'bee-queue': null };
  const kids = new Map<LibName, WorkerChild>();
  try {
    for (const lib of LIBS) kids.set(lib, (await spawnChildren(lib, 1))[0]!);
    // repeats interleaved across libraries
    for (let r = 0; r < opts.repeats; r++) {
      for (const cell of cells) {
        const { lib, concurrency } = cell;
        if (timeLeft(ctx) < 5_000) {
          cell.errors.push(`run ${r + 1} skipped: out of time budget`);
          ctx.log(`  ${LIB_LABEL[cell.lib]} run ${r + 1} skipped: out of time budget`);
          continue;
        }
        try {
          const m = await runOnce(ctx, lib, kids.get(lib)!, proxy, port, concurrency, opts.n, idx);
          cell.runs.push(m.cell);
          producer[lib] ??= m.producerCost;
          ctx.log(
            `  ${LIB_LABEL[lib].padEnd(10)} c${String(concurrency).padEnd(4)} run ${r + 1}: ${m.cell.roundTrips} round trips, ${m.cell.topLevelCommands} commands ` +
              `(${m.cell.allCommands} incl. in scripts), ${m.cell.redisUs} µs of Redis per task; top: ${m.cell.byCommand
                .slice(0, 3)
                .map((c) => `${c.command} ${c.pctTime}%`)
                .join(', ')}`,
          );
        } catch (e) {
          check(ctx);
          cell.errors.push(`run ${r + 1}: ${(e as Error).message}`);
          ctx.log(`  ${LIB_LABEL[lib]} c${concurrency} run ${r + 1} FAILED: ${(e as Error).message}`);
          kids.get(lib)!.kill();
          kids.set(lib, (await spawnChildren(lib, 1))[0]!);
        }
      }
    }
  } finally {
    await Promise.allSettled([...kids.values()].map((k) => k.exit(3000)));
    proxy.close();
    await ctx.redis.admin.config('SET', 'slowlog-log-slower-than', '10000').catch(() => {});
  }
  const out: CostCell[] = cells.map(({ runs, ...cell }) => {
    if (!runs.length) return cell;
    for (const k of NUMERIC) cell[k] = round(median(runs.map((x) => x[k] as number)), k === 'allCommands' || k === 'redisUs' ? 1 : 3);
    // the breakdown of the run whose Redis time is the median one
    const mid = [...runs].sort((a, b) => a.redisUs - b.redisUs)[runs.length >> 1]!;
    cell.byCommand = mid.byCommand;
    cell.innerCommands = mid.innerCommands;
    return cell;
  });
  return { n: opts.n, repeats: opts.repeats, cells: out, producer };
}
