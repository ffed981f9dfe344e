/**
 * Worker side of each library, run inside a worker child process (bench/worker-child.ts).
 * `report` sends the parent a "started" message with a CLOCK_MONOTONIC timestamp
 * (process.hrtime, comparable across processes on one machine).
 */
import type { FnName, LibName, RedisAddr } from './libs.js';
import { connectionOf, QUEUE } from './libs.js';
import { taskSwarm } from './task-swarm.js';

export interface WorkerSpec {
  lib: LibName;
  redis: RedisAddr;
  concurrency: number;
  /** failover: lock duration / stall interval / task timeout in ms (and its check interval) */
  lockMs?: number;
  /** Task Swarm only: heartbeatInterval (default: lockMs / 2 when lockMs is set, else the library's) */
  heartbeatMs?: number;
}

export interface RunningWorker {
  stop(): Promise<void>;
}

export type Report = (id: string, attempt: number) => void;

const HANG_MS = 120_000;

function hang(signal?: AbortSignal): Promise<null> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(null), HANG_MS);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve(null);
    });
  });
}

/** import the library now, so that module loading is never inside a measurement */
export async function preload(lib: LibName): Promise<void> {
  if (lib === 'task-swarm') await taskSwarm();
  else if (lib === 'bullmq') await import('bullmq');
  else await import('bee-queue');
}

export async function startWorker(spec: WorkerSpec, report: Report): Promise<RunningWorker> {
  const { host, port } = spec.redis;
  switch (spec.lib) {
    case 'task-swarm': {
      const { Worker } = await taskSwarm();
      const worker = new Worker({
        host: '127.0.0.1',
        port: 0,
        redis: connectionOf(spec.redis),
        concurrency: spec.concurrency,
        // failover: renew twice per timeout, as BullMQ (lockDuration/2) and Bee-Queue (stallInterval/2) do
        ...(spec.heartbeatMs || spec.lockMs ? { heartbeatInterval: spec.heartbeatMs ?? Math.floor(spec.lockMs! / 2) } : {}),
      });
      worker.addTaskFunction('noop', async () => null);
      worker.addTaskFunction('probe', async (task) => {
        report(task.id, task.attempt);
        return null;
      });
      worker.addTaskFunction('hang', async (task) => {
        report(task.id, task.attempt);
        return hang(task.signal);
      });
      // one task in ten fails its first attempt (time: throughput with attempts: 3)
      worker.addTaskFunction('flaky', async (task) => {
        if (task.attempt === 1 && (task.data as { i: number }).i % 10 === 0) throw new Error('flaky: first attempt');
        return null;
      });
      await worker.start();
      return { stop: () => worker.stop() };
    }
    case 'bullmq': {
      const { Worker } = await import('bullmq');
      const worker = new Worker(
        QUEUE,
        async (job) => {
          const fn = job.name as FnName;
          if (fn === 'noop') return null;
          report(job.id!, job.attemptsStarted);
          return fn === 'hang' ? hang() : null;
        },
        {
          connection: connectionOf(spec.redis),
          concurrency: spec.concurrency,
          ...(spec.lockMs ? { lockDuration: spec.lockMs, stalledInterval: spec.lockMs } : {}),
        },
      );
      worker.on('error', () => {});
      await worker.waitUntilReady();
      return { stop: () => worker.close() };
    }
    case 'bee-queue': {
      const BeeQueue = (await import('bee-queue')).default;
      const queue = new BeeQueue(QUEUE, {
        redis: { host, port },
        isWorker: true,
        getEvents: false,
        ...(spec.lockMs ? { stallInterval: spec.lockMs } : {}),
      });
      queue.on('error', () => {});
      queue.process(spec.concurrency, async (job: { id: string; data: { fn: FnName }; options: { retries?: number } }) => {
        const fn = job.data.fn;
        if (fn === 'noop') return null;
        report(job.id, 0);
        return fn === 'hang' ? hang() : null;
      });
      await queue.ready();
      if (spec.lockMs) queue.checkStalledJobs(spec.lockMs).catch(() => {});
      return { stop: () => queue.close(5000) };
    }
  }
}
