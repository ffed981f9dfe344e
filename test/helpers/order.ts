/**
 * What the order tests (issue 9: priorities, fairness, FIFO) share: workers that record the order
 * in which their function starts tasks, and a fast way to queue thousands of entries in the
 * seed's form.
 */
import type { Redis } from 'ioredis';
import { Worker } from '../../src/index.js';
import { keysFor } from '../properties/harness.js';
import { until } from './redis-server.js';

export const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** a start as the task function saw it: its id, its group (from its data) and when (ms, local) */
export interface Start {
  id: string;
  group?: string;
  at: number;
}

export interface Recorder {
  starts: Start[];
  ids(): string[];
  /** resolves when `n` tasks have started */
  started(n: number, timeoutMs?: number): Promise<void>;
}

export function recorder(): Recorder {
  const starts: Start[] = [];
  return {
    starts,
    ids: () => starts.map((s) => s.id),
    started: (n, timeoutMs = 20_000) => until(() => starts.length >= n, `${n} starts (${starts.length} so far)`, timeoutMs, 5).then(() => {}),
  };
}

/**
 * A worker serving `fn` that records each start in `rec`; each run takes `runMs` (0: returns at
 * once). Not started yet.
 */
export function recordingWorker(
  redis: Record<string, unknown>,
  fn: string,
  rec: Recorder,
  opts: { concurrency?: number; runMs?: number; stopGrace?: number; fetchTaskInterval?: number; maxPayloadBytes?: number } = {},
): Worker {
  const w = new Worker({
    port: 0,
    redis,
    logger: quiet,
    concurrency: opts.concurrency ?? 1,
    ...(opts.stopGrace !== undefined ? { stopGrace: opts.stopGrace } : {}),
    ...(opts.fetchTaskInterval !== undefined ? { fetchTaskInterval: opts.fetchTaskInterval } : {}),
    ...(opts.maxPayloadBytes !== undefined ? { maxPayloadBytes: opts.maxPayloadBytes } : {}),
  });
  const runMs = opts.runMs ?? 0;
  w.addTaskFunction(fn, async (t) => {
    const d = t.data as { group?: string } | null;
    rec.starts.push({ id: t.id, group: d?.group, at: Date.now() });
    if (runMs > 0) await new Promise((r) => setTimeout(r, runMs));
  });
  return w;
}

/** a seed-form entry, as `redis-cli LPUSH new-task` would push it */
export function seedEntry(id: string, fn: string, extra: { group?: string; priority?: number } = {}): string {
  return JSON.stringify({ id, function: fn, data: { group: extra.group }, ...extra });
}

/** LPUSH entries (oldest first) to the swarm's `new-task`, in chunks, in one pipeline */
export async function pushEntries(redis: Redis, keyPrefix: string, entries: string[]): Promise<void> {
  const queue = keysFor(keyPrefix).newQueue;
  const pipe = redis.pipeline();
  for (let i = 0; i < entries.length; i += 1000) pipe.lpush(queue, ...entries.slice(i, i + 1000));
  await pipe.exec();
}

/** resolves when every entry pushed to `new-task` has been routed (or claimed) */
export async function ingressEmpty(redis: Redis, keyPrefix: string, timeoutMs = 20_000): Promise<void> {
  const queue = keysFor(keyPrefix).newQueue;
  await until(async () => (await redis.llen(queue)) === 0, 'new-task to be routed', timeoutMs, 10);
}
