/**
 * The three libraries under test, behind one small interface per side:
 * - the producer side (runs in the bench process): submit one task, count completions;
 * - the worker side (runs in a worker child process, bench/worker-child.ts): start a worker.
 *
 * Task functions (all three libraries register the same ones):
 *   noop   returns null at once (throughput, cost, profile)
 *   probe  reports "started" to the parent over IPC, then returns null (pickup latency)
 *   hang   reports "started", then never returns (failover: the worker is SIGKILLed)
 *   flaky  (Task Swarm only) throws on its first attempt when data.i % 10 === 0, else returns null
 *          (time: retries)
 *
 * Every library runs with its defaults except where a scenario says otherwise (concurrency,
 * lock/stall timeouts for failover). Completed jobs are kept, as all three do by default.
 */
import type { Redis } from 'ioredis';
import { taskSwarm } from './task-swarm.js';

export type LibName = 'task-swarm' | 'bullmq' | 'bee-queue';
export const LIBS: LibName[] = ['task-swarm', 'bullmq', 'bee-queue'];
export const LIB_LABEL: Record<LibName, string> = { 'task-swarm': 'Task Swarm', bullmq: 'BullMQ', 'bee-queue': 'Bee-Queue' };
export const QUEUE = 'bench';

export interface RedisAddr {
  host: string;
  port: number;
  /** Redis Sentinel instead of host/port (Task Swarm and BullMQ; Bee-Queue has no Sentinel support) */
  sentinels?: { host: string; port: number }[];
  /** with `sentinels`: the primary's name */
  name?: string;
}

/** the connection options of Task Swarm's `redis` (also ioredis's, which BullMQ takes) for `addr` */
export function connectionOf(addr: RedisAddr): { host: string; port: number } | { sentinels: { host: string; port: number }[]; name: string } {
  return addr.sentinels ? { sentinels: addr.sentinels, name: addr.name ?? 'mymaster' } : { host: addr.host, port: addr.port };
}

export type FnName = 'noop' | 'probe' | 'hang' | 'flaky';

export interface Producer {
  /** submit one task through the library's ordinary submit path; resolves with its id */
  submit(fn: FnName, i: number): Promise<string>;
  close(): Promise<void>;
}

/** how each library's completion count is read (one O(1) command, polled by the bench) */
export function completedCount(lib: LibName, redis: Redis): Promise<number> {
  switch (lib) {
    case 'task-swarm':
      // finish.lua RPUSHes every ended id to `tasks:ended`; no monitor runs to reap it
      return redis.llen('tasks:ended');
    case 'bullmq':
      return redis.zcard(`bull:${QUEUE}:completed`);
    case 'bee-queue':
      return redis.scard(`bq:${QUEUE}:succeeded`);
  }
}

export async function createProducer(lib: LibName, addr: RedisAddr): Promise<Producer> {
  switch (lib) {
    case 'task-swarm': {
      const { Client } = await taskSwarm();
      const client = new Client({ redis: connectionOf(addr) });
      return {
        submit: (fn, i) => client.submit(fn, { i }),
        close: () => client.close(),
      };
    }
    case 'bullmq': {
      const { Queue } = await import('bullmq');
      const queue = new Queue(QUEUE, { connection: connectionOf(addr) });
      await queue.waitUntilReady();
      return {
        submit: async (fn, i) => (await queue.add(fn, { i })).id!,
        close: () => queue.close(),
      };
    }
    case 'bee-queue': {
      const BeeQueue = (await import('bee-queue')).default;
      // A producer-only queue, as Bee-Queue's README recommends for producers.
      const queue = new BeeQueue(QUEUE, { redis: { host: addr.host, port: addr.port }, isWorker: false, getEvents: false });
      await queue.ready();
      return {
        submit: async (fn, i) => (await queue.createJob({ fn, i }).save()).id,
        close: () => queue.close(),
      };
    }
  }
}

/** Submit `n` tasks with at most `window` in flight; returns the ids in order. */
export async function submitMany(p: Producer, fn: FnName, n: number, window = 500): Promise<string[]> {
  const ids: string[] = new Array(n);
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      ids[i] = await p.submit(fn, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, n) }, lane));
  return ids;
}
