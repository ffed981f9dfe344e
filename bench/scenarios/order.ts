/**
 * Scenario 7, order (issue 9; Task Swarm only): what routing by function, priorities, groups and
 * limits cost a claim as the queue grows.
 *
 * Redis is filled with real tasks of one function, each placed as `Client.submit` places a task
 * with a group and a priority (`buildSubmission` then submit.lua with the same arguments, a
 * thousand tasks per call as `Client.submitMany` sends them), across 1,000 groups x 10 priorities, up to 10k, 100k and 1M queued
 * (cumulative: each size tops the queue up). At each size a worker-like caller (the library's
 * `claim` effect, a token per claim acking the one before, as the Worker does) makes a few
 * hundred claims of 1 task and of 10 tasks, one after the other; the cost is Redis's own time
 * per claim script (INFO commandstats, `fcall` µs / calls), so neither the round trip nor the
 * bench process counts. Then the same with a concurrency limit and a rate limit set on the
 * function and on each of the 1,000 groups (high enough never to bind: the claim pays for
 * checking and counting them, no group is set aside). Memory per queued task is the
 * `used_memory` delta / n, for the placed tasks at each size and for plain seed tasks (no group,
 * no priority: pushed on `new-task`).
 *
 * 1M queued is opt-in (`npm run bench -- --only=order --order-max=1000000`): filling it takes
 * 1-2 minutes here, more than the scenario's 60 s.
 */
import type { Redis } from 'ioredis';
import { resolveRedisConfig } from '../../src/config.js';
import { buildKeys, type Keys } from '../../src/keys.js';
import { connect, type Connection } from '../../src/redis.js';
import { claim, submitTasks } from '../../src/effects/queue.js';
import { setLimit } from '../../src/effects/limits.js';
import { buildSubmission } from '../../src/submission.js';
import { commandStats, resetRedis, usedMemory } from '../lib/redis.js';
import { nowMs, round } from '../lib/timing.js';
import { check, timeLeft, type Ctx } from '../lib/context.js';

const FN = 'work';
const GROUPS = 1000;
const PRIORITIES = 10;
const WORKER = '127.0.0.1:6001';
const MAX_BYTES = 1_048_576;
/** limits set in the limited case: checked and counted by every claim, never reached */
const BIG = { concurrency: 1_000_000_000, rate: { max: 1_000_000_000, per: 60_000 } };

export interface OrderCell {
  /** the queue size measured (the fill's target) */
  size: number;
  /** tasks queued when these claims began (the size, less what earlier claims took) */
  queued: number;
  limits: boolean;
  /** tasks per claim */
  batch: number;
  claims: number;
  /** Redis µs per claim script (commandstats) */
  usPerClaim: number;
  usPerTask: number;
  /** commands run inside the script per claim */
  commandsPerClaim: number;
  /** round trip per claim, from the bench process (ms, mean) */
  rttMs: number;
}
export interface OrderResult {
  groups: number;
  priorities: number;
  sizes: number[];
  cells: OrderCell[];
  /** used_memory delta / n: placed (group + priority) at each size, and plain seed tasks */
  memory: { placed: Record<string, number>; plain: number; plainN: number };
  /** submits per second while filling (submit.lua, a thousand per call) */
  fillRate: number;
  commit?: string;
}

/** the k-th task: group k mod 1000, priority (k div 1000) mod 10, in -4..5 */
function place(k: number): { group: string; priority: number } {
  return { group: `tenant-${k % GROUPS}`, priority: (Math.floor(k / GROUPS) % PRIORITIES) - 4 };
}

async function fill(r: Redis, keys: Keys, from: number, to: number, placed: boolean): Promise<void> {
  for (let k = from; k < to; ) {
    // as Client.submitMany does: submit.lua takes a batch, each entry placed at once when it has
    // a group or a priority
    const batch = [];
    for (let j = 0; j < 1000 && k < to; j++, k++) batch.push(buildSubmission(FN, { k }, placed ? place(k) : {}));
    const out = await submitTasks(r, keys, batch);
    if (out.some((x) => !x.queued)) throw new Error('a submit failed while filling');
  }
}

async function claims(ctx: Ctx, conn: Connection, admin: Redis, keys: Keys, batch: number, count: number, token: { n: number; last: string }) {
  const run = async () => {
    const t = `bench-${token.n++}`;
    const r = await claim(conn, keys, { worker: WORKER, max: batch, maxPayloadBytes: MAX_BYTES, functions: [{ name: FN, room: batch }], rotation: 0, token: t, acks: token.last ? [token.last] : [] });
    token.last = t;
    if (r.claimed.length !== batch) throw new Error(`a claim of ${batch} took ${r.claimed.length}`);
  };
  await run(); // (loads the script on this connection)
  await admin.config('RESETSTAT');
  const t0 = nowMs();
  for (let i = 0; i < count; i++) {
    check(ctx);
    await run();
  }
  const rttMs = (nowMs() - t0) / count;
  const st = await commandStats(admin);
  const ev = st.fcall ?? { calls: 0, usec: 0 };
  if (ev.calls !== count) throw new Error(`expected ${count} claim scripts, commandstats counted ${ev.calls}`);
  const inner = Object.entries(st)
    .filter(([k]) => !['fcall', 'function|load', 'config', 'config|resetstat', 'info'].includes(k))
    .reduce((s, [, v]) => s + v.calls, 0);
  return { usPerClaim: ev.usec / count, commandsPerClaim: inner / count, rttMs };
}

async function setAll(conn: Connection, keys: Keys, on: boolean) {
  await setLimit(conn, keys, { function: FN }, on ? BIG : null);
  for (let g = 0; g < GROUPS; g += 100) {
    await Promise.all(Array.from({ length: 100 }, (_, j) => setLimit(conn, keys, { group: `tenant-${g + j}` }, on ? BIG : null)));
  }
}

export async function order(ctx: Ctx, opts: { sizes: number[]; claims1: number; claims10: number }): Promise<OrderResult> {
  if (timeLeft(ctx) < 10_000) throw new Error('skipped: out of time budget');
  const config = resolveRedisConfig({ host: ctx.addr.host, port: ctx.addr.port });
  const keys = buildKeys(config);
  const admin = ctx.redis.admin;
  const conn = connect(config, 'command', 'bench-order');
  await conn.connect();
  const cells: OrderCell[] = [];
  const memory: OrderResult['memory'] = { placed: {}, plain: 0, plainN: 0 };
  const token = { n: 0, last: '' };
  let fillMs = 0;
  let filled = 0;
  try {
    // plain seed tasks: memory only
    await resetRedis(admin);
    memory.plainN = 100_000;
    let m0 = await usedMemory(admin);
    await fill(admin, keys, 0, memory.plainN, false);
    memory.plain = round(((await usedMemory(admin)) - m0) / memory.plainN, 0);
    ctx.log(`  plain seed task on new-task: ${memory.plain} B`);

    await resetRedis(admin);
    m0 = await usedMemory(admin);
    let claimed = 0;
    for (const size of opts.sizes) {
      if (timeLeft(ctx) < 5_000) {
        ctx.log(`  ${size} queued: skipped, out of time budget`);
        break;
      }
      const f0 = nowMs();
      const need = size - (filled - claimed);
      await fill(admin, keys, filled, filled + need, true);
      filled += need;
      fillMs += nowMs() - f0;
      const q = filled - claimed;
      // every queued task's bytes, the ones claimed before included in neither count
      memory.placed[String(size)] = round(((await usedMemory(admin)) - m0) / filled, 0);
      const line: string[] = [];
      for (const limits of [false, true]) {
        if (limits) await setAll(conn, keys, true);
        for (const [batch, count] of [
          [1, opts.claims1],
          [10, opts.claims10],
        ] as const) {
          const queued = filled - claimed;
          const r = await claims(ctx, conn, admin, keys, batch, count, token);
          claimed += batch * (count + 1);
          cells.push({ size, queued, limits, batch, claims: count, usPerClaim: round(r.usPerClaim, 1), usPerTask: round(r.usPerClaim / batch, 1), commandsPerClaim: round(r.commandsPerClaim, 1), rttMs: round(r.rttMs, 3) });
          line.push(`${limits ? 'limited ' : ''}claim ${batch}: ${round(r.usPerClaim, 1)} µs`);
        }
        if (limits) await setAll(conn, keys, false);
      }
      ctx.log(`  ${q} queued (${round((nowMs() - f0) / 1000, 1)} s): ${line.join(', ')}; ${memory.placed[String(size)]} B per placed task`);
    }
  } finally {
    conn.disconnect();
    await resetRedis(admin);
  }
  return { groups: GROUPS, priorities: PRIORITIES, sizes: opts.sizes, cells, memory, fillRate: round(filled / (fillMs / 1000), 0) };
}
