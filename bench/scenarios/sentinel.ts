/**
 * Scenario 10, Sentinel failover (Task Swarm and BullMQ; Bee-Queue has no Sentinel support): a
 * primary, a replica and three sentinels of this scenario's own (down-after-milliseconds 1000);
 * one worker child at concurrency 1 and the bench's producer, both connected through the
 * sentinels. The producer submits a `probe` task every 20 ms; once tasks run steadily, the
 * primary is SIGKILLed. Measured: from the kill to the start of the first task submitted after
 * it (the swarm running new work again: the sentinels have promoted the replica, and the worker
 * and the producer found it on their own). A fresh deployment per run; the libraries alternate.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../tools/redis-process.js';
import { nodeArgs, spawnSentinel, spawnServer, type ServerProcess } from '../../tools/deployments.js';
import { Redis } from 'ioredis';
import { spawnChildren } from '../lib/children.js';
import { createProducer, LIB_LABEL, type LibName, type RedisAddr } from '../lib/libs.js';
import { check, type Ctx } from '../lib/context.js';
import { hrToMs, median, nowMs, round, sleep, until } from '../lib/timing.js';

const NAME = 'mymaster';
const LIBS: LibName[] = ['task-swarm', 'bullmq'];
/** how long a library may take to run new work after the kill before the run counts as "not within" */
const RECOVERY_LIMIT_MS = 30_000;

export interface SentinelCell {
  lib: LibName;
  /** ms from the primary's SIGKILL to the first task submitted after it starting; null: not within RECOVERY_LIMIT_MS */
  runs: (number | null)[];
  median: number | null;
  errors: string[];
}
export interface SentinelResult {
  downAfterMs: number;
  cells: SentinelCell[];
}

interface Deployment {
  addr: RedisAddr;
  primary: ServerProcess;
  stop(): Promise<void>;
}

async function deploy(): Promise<Deployment> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-sentinel-'));
  const [p1, p2, ...sp] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const procs: ServerProcess[] = [];
  const primary = await spawnServer(nodeArgs(p1!, dir, ['--dbfilename', 'primary.rdb']), p1!);
  procs.push(primary);
  procs.push(await spawnServer(nodeArgs(p2!, dir, ['--dbfilename', 'replica.rdb', '--replicaof', '127.0.0.1', String(p1)]), p2!));
  for (const port of sp) procs.push(await spawnSentinel(dir, port!, NAME, p1!));
  const stop = async () => {
    await Promise.all(procs.map((p) => p.kill()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const replica = new Redis({ port: p2 });
    await until(async () => /master_link_status:up/.test(await replica.info('replication')), 10_000, 'the replica in sync', 50);
    replica.disconnect();
    // every sentinel knows the replica and the other two (they meet on the primary's hello channel)
    for (const port of sp) {
      const s = new Redis({ port });
      await until(
        async () => {
          const m = (await s.call('SENTINEL', 'MASTER', NAME)) as string[];
          const f = (k: string) => Number(m[m.indexOf(k) + 1]);
          return f('num-slaves') >= 1 && f('num-other-sentinels') >= 2;
        },
        15_000,
        'the sentinels met',
        100,
      );
      s.disconnect();
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { addr: { host: '127.0.0.1', port: p1!, sentinels: sp.map((port) => ({ host: '127.0.0.1', port: port! })), name: NAME }, primary, stop };
}

async function once(ctx: Ctx, lib: LibName): Promise<number | null> {
  const d = await deploy();
  const [kid] = await spawnChildren(lib, 1);
  try {
    await kid!.start({ lib, redis: d.addr, concurrency: 1 });
    const producer = await createProducer(lib, d.addr);
    const startedAt = new Map<string, number>();
    const off = kid!.on((m) => {
      if (m.type === 'started' && m.id && m.t && !startedAt.has(m.id)) startedAt.set(m.id, hrToMs(m.t));
    });
    const afterKill: string[] = [];
    let killedAt = Infinity;
    let stop = false;
    const feed = (async () => {
      for (let i = 0; !stop; i++) {
        const calledAt = nowMs();
        // (during the outage the call waits for a primary, or fails and the next one tries)
        void producer.submit('probe', i).then(
          (id) => {
            if (calledAt > killedAt) afterKill.push(id);
          },
          () => {},
        );
        await sleep(20);
      }
    })();
    try {
      await until(async () => startedAt.size >= 20, 10_000, `${lib}: tasks running before the kill`, 20);
      check(ctx);
      killedAt = nowMs();
      await d.primary.kill('SIGKILL');
      const firstAfter = () => {
        const t = afterKill.map((id) => startedAt.get(id)).filter((x): x is number => x !== undefined);
        return t.length ? Math.min(...t) : undefined;
      };
      try {
        await until(async () => firstAfter() !== undefined, RECOVERY_LIMIT_MS, `${lib}: a task submitted after the kill running`, 20, () => ctx.cancelled);
      } catch {
        return null;
      }
      return round(firstAfter()! - killedAt, 0);
    } finally {
      stop = true;
      await feed;
      off();
      await producer.close().catch(() => {});
    }
  } finally {
    kid!.kill();
    await d.stop();
  }
}

export async function sentinelFailover(ctx: Ctx, o: { repeats: number }): Promise<SentinelResult> {
  const cells = new Map<LibName, SentinelCell>(LIBS.map((lib) => [lib, { lib, runs: [], median: null, errors: [] }]));
  for (let r = 0; r < o.repeats; r++) {
    for (const lib of r % 2 === 0 ? LIBS : [...LIBS].reverse()) {
      check(ctx);
      const cell = cells.get(lib)!;
      try {
        const ms = await once(ctx, lib);
        cell.runs.push(ms);
        ctx.log(`  ${LIB_LABEL[lib].padEnd(10)} run ${r + 1}: ${ms === null ? `no new task ran within ${RECOVERY_LIMIT_MS} ms` : `${ms} ms from the kill to a new task running`}`);
      } catch (e) {
        cell.errors.push((e as Error).message);
        ctx.log(`  ${LIB_LABEL[lib]} run ${r + 1} FAILED: ${(e as Error).message}`);
      }
    }
  }
  for (const c of cells.values()) {
    const ok = c.runs.filter((x): x is number => x !== null);
    c.median = ok.length === c.runs.length && ok.length > 0 ? median(ok) : null;
  }
  return { downAfterMs: 1000, cells: [...cells.values()] };
}
