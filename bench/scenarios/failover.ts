/**
 * Scenario 3, failover: a worker child (A, concurrency 1) runs a `hang` task; a second idle
 * worker child (B) is up; A is SIGKILLed 1-2 s (random) after the task started; failover =
 * the moment B's function starts the same task - the moment of the kill.
 * Same timeout on every side (lockMs, 2000 ms by default):
 *   Task Swarm  Monitor{ taskTimeout: lockMs, checkTaskInterval: lockMs } in the bench process,
 *               workers heartbeat every lockMs/2 (as BullMQ and Bee-Queue renew their locks);
 *               a second variant heartbeats every lockMs/4;
 *   BullMQ      Worker{ lockDuration: lockMs, stalledInterval: lockMs } (lock renewed every lockMs/2);
 *   Bee-Queue   Queue{ stallInterval: lockMs } + checkStalledJobs(lockMs) on the workers.
 * A run that does not fail over within 3 x lockMs + 3 s is reported as timed out, and that
 * variant is not repeated.
 */
import { LIB_LABEL, createProducer, type LibName } from '../lib/libs.js';
import { spawnChildren } from '../lib/children.js';
import { resetRedis } from '../lib/redis.js';
import { hrToMs, median, nowMs, round, sleep } from '../lib/timing.js';
import { check, timeLeft, type Ctx } from '../lib/context.js';

export interface FailoverCell {
  lib: LibName;
  /** what differs from the library's plain setting, e.g. `heartbeatInterval 500` */
  variant: string;
  lockMs: number;
  runs: number[];
  /** median ms from SIGKILL to the task running again on the other worker */
  ms: number | null;
  errors: string[];
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };

async function runOnce(ctx: Ctx, lib: LibName, lockMs: number, heartbeatMs?: number): Promise<number> {
  await resetRedis(ctx.redis.admin);
  const [a, b] = await spawnChildren(lib, 2);
  const spec = { lib, redis: ctx.addr, concurrency: 1, lockMs, heartbeatMs };
  const producer = await createProducer(lib, ctx.addr);
  let monitor: { stop(): Promise<void> } | undefined;
  try {
    if (lib === 'task-swarm') {
      const { Monitor } = await import('../../src/index.js');
      const m = new Monitor({ redis: { host: ctx.addr.host, port: ctx.addr.port }, taskTimeout: lockMs, checkTaskInterval: lockMs, logger: silent });
      await m.start();
      monitor = m;
    }
    await a!.start(spec);
    const startedOnA = a!.next((m) => m.type === 'started', 10_000, 'the task to start on A');
    const id = await producer.submit('hang', 0);
    await startedOnA;
    await b!.start(spec);
    await sleep(1000 + Math.random() * 1000);
    const again = b!.next((m) => m.type === 'started' && m.id === id, lockMs * 3 + 3000, 'the task to run again on B after A was SIGKILLed');
    const killedAt = nowMs();
    a!.kill('SIGKILL');
    const m = await again;
    return hrToMs(m.t!) - killedAt;
  } finally {
    a!.kill();
    b!.kill();
    await monitor?.stop();
    await producer.close();
  }
}

export async function failover(ctx: Ctx, opts: { lockMs: number; repeats: number }): Promise<{ lockMs: number; cells: FailoverCell[] }> {
  const cells: FailoverCell[] = [];
  const variants: { lib: LibName; variant: string; heartbeatMs?: number }[] = [
    { lib: 'task-swarm', variant: `heartbeatInterval ${opts.lockMs / 2}` },
    { lib: 'task-swarm', variant: `heartbeatInterval ${opts.lockMs / 4}`, heartbeatMs: opts.lockMs / 4 },
    { lib: 'bullmq', variant: '' },
    { lib: 'bee-queue', variant: '' },
  ];
  for (const v of variants) cells.push({ lib: v.lib, variant: v.variant, lockMs: opts.lockMs, runs: [], ms: null, errors: [] });
  const gaveUp = new Set<number>();
  // repeats interleaved across libraries, so that load on the machine hits all alike
  for (let r = 0; r < opts.repeats; r++) {
    for (const [i, v] of variants.entries()) {
      const cell = cells[i]!;
      if (gaveUp.has(i)) continue;
      const label = `${LIB_LABEL[v.lib]}${v.variant ? ` (${v.variant})` : ''}`;
      if (timeLeft(ctx) < opts.lockMs * 3 + 3000) {
        cell.errors.push(`run ${r + 1} skipped: out of time budget`);
        ctx.log(`  ${LIB_LABEL[cell.lib]} run ${r + 1} skipped: out of time budget`);
        continue;
      }
      try {
        const ms = round(await runOnce(ctx, v.lib, opts.lockMs, v.heartbeatMs), 1);
        cell.runs.push(ms);
        ctx.log(`  ${label} run ${r + 1}: task ran again ${ms} ms after SIGKILL`);
      } catch (e) {
        check(ctx);
        cell.errors.push(`run ${r + 1}: ${(e as Error).message}`);
        ctx.log(`  ${label} run ${r + 1} FAILED: ${(e as Error).message}`);
        if (/timed out/.test((e as Error).message)) {
          cell.errors.push('not repeated after a timeout');
          gaveUp.add(i);
        }
      }
    }
  }
  for (const cell of cells) cell.ms = cell.runs.length ? round(median(cell.runs), 1) : null;
  return { lockMs: opts.lockMs, cells };
}
