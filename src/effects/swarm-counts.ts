/**
 * The swarm's counts, in one round trip: what `Client.stats` (and so `task-swarm status`) shows
 * but the running tasks per function, and what a monitor's metrics export (src/telemetry/
 * swarm-gauges.ts) from the same read, so the two cannot tell different stories. Each count is
 * one command on one key (the per-function ones from the counts hash the scripts keep): the
 * cost does not grow with the number of tasks.
 */
import type { Keys } from '../keys.js';
import type { Connection } from '../redis.js';
import type { ChainableCommander } from 'ioredis';
import { readTogether } from '../read-together.js';
import { dictionary } from '../dictionary.js';
import { evictionPolicy } from '../server-version.js';
import { servedBy } from '../served-functions.js';

export interface FunctionCounts {
  /** tasks routed to it and waiting */
  queued: number;
  /** tasks waiting for a time: a delay, or a retry's backoff */
  delayed: number;
  /** live workers that serve it */
  workers: number;
  paused: boolean;
}

export interface SwarmCounts {
  /** entries on the queue not routed yet (a wake marker is no task) */
  queued: number;
  /** claimed tasks: running, or ended and awaiting cleanup */
  tasks: number;
  workers: number;
  /** dead letters */
  dead: number;
  /** manually ended tasks (end-task) */
  ended: number;
  /** the whole swarm is paused */
  paused: boolean;
  functions: Record<string, FunctionCounts>;
  /** the dead-letter store's counts by `<what>:<reason>` (parked, dropped, retried, purged) */
  deadStats: Record<string, number>;
  /** Redis time (ms) of the read, and the oldest heartbeat of a running task (Redis ms), if any */
  now: number;
  oldestLease?: number;
  /** Redis's maxmemory-policy where it may evict keys (any but noeviction: src/server-version.ts), else undefined */
  evicting?: string;
}

/**
 * the counts of one partition (src/partitions.ts): every partition of a swarm has its own.
 * `policy`: Redis's eviction policy too (`evicting`; the monitor's gauge: Client.stats has no use
 * for it)
 */
export async function swarmCounts(redis: Connection, keys: Keys, policy = false): Promise<SwarmCounts> {
  const reads = (m: ChainableCommander) => m
    .llen(keys.newQueue)
    .scard(keys.taskSet)
    .smembers(keys.workerSet)
    .zcard(keys.dead.index)
    .scard(keys.endQueue)
    .hgetall(keys.counts)
    .hgetall(keys.workerFunctions)
    .smembers(keys.paused)
    .lindex(keys.newQueue, -1)
    .hgetall(keys.dead.stats)
    .zrange(keys.leases, 0, 0, 'WITHSCORES')
    .time();
  // (the node that holds this partition's keys: a policy set there after the start-up check)
  const r = await readTogether(redis, (m) => (policy ? reads(m).info('memory') : reads(m)));
  for (const [e] of r) if (e) throw e;
  const [listed, tasks, workers, dead, ended, counts, served, pausedSet, oldest, stats, lease, time, memory] = r.map(([, v]) => v) as [
    number,
    number,
    string[],
    number,
    number,
    Record<string, string>,
    Record<string, string>,
    string[],
    string | null,
    Record<string, string>,
    string[],
    [string, string],
    string | undefined,
  ];
  // a wake marker (lib/limits.lua) is no task: at most one is queued, as the oldest entry
  const queued = listed - (oldest === 'wake' ? 1 : 0);
  const functions = dictionary<FunctionCounts>();
  const of = (fn: string) => (functions[fn] ??= { queued: 0, delayed: 0, workers: 0, paused: pausedSet.includes('*') || pausedSet.includes(fn) });
  for (const [f, n] of Object.entries(counts)) {
    if (f.startsWith('q:') && Number(n) > 0) of(f.slice(2)).queued = Number(n);
    else if (f.startsWith('d:') && Number(n) > 0) of(f.slice(2)).delayed = Number(n);
  }
  for (const [fn, n] of servedBy(workers, served)) of(fn).workers = n;
  for (const fn of pausedSet) if (fn !== '*') of(fn);
  const deadStats = dictionary<number>();
  for (const [k, v] of Object.entries(stats)) if (k !== 'seq' && Number.isFinite(Number(v))) deadStats[k] = Number(v);
  const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
  const oldestLease = lease.length === 2 && Number.isFinite(Number(lease[1])) ? Number(lease[1]) : undefined;
  const evicting = memory === undefined ? undefined : evictionPolicy(memory);
  return { queued, tasks, workers: workers.length, dead, ended, paused: pausedSet.includes('*'), functions, deadStats, now, oldestLease, ...(evicting ? { evicting } : {}) };
}

/**
 * A swarm's counts from its partitions', as `Client.stats` sums them: the workers, their
 * functions and the pause are listed in every partition (the first's are taken), the rest adds up.
 */
export function sumCounts(each: readonly SwarmCounts[]): SwarmCounts {
  if (each.length === 1) return each[0]!;
  const first = each[0]!;
  const out: SwarmCounts = { queued: 0, tasks: 0, workers: first.workers, dead: 0, ended: 0, paused: first.paused, functions: dictionary(), deadStats: dictionary(), now: 0 };
  for (const c of each) {
    out.queued += c.queued;
    out.tasks += c.tasks;
    out.dead += c.dead;
    out.ended += c.ended;
    out.now = Math.max(out.now, c.now);
    if (c.oldestLease !== undefined) out.oldestLease = Math.min(out.oldestLease ?? Infinity, c.oldestLease);
    if (c.evicting) out.evicting ??= c.evicting;
    for (const [k, n] of Object.entries(c.deadStats)) out.deadStats[k] = (out.deadStats[k] ?? 0) + n;
    for (const [fn, f] of Object.entries(c.functions)) {
      const o = (out.functions[fn] ??= { queued: 0, delayed: 0, workers: f.workers, paused: f.paused });
      o.queued += f.queued;
      o.delayed += f.delayed;
      o.workers = Math.max(o.workers, f.workers);
    }
  }
  return out;
}
