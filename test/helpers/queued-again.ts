/**
 * A task queued again after a claim, between two attempts, as the tests of a stop of it make
 * one (test/control-stop-*.test.ts): requeued by a monitor after its worker process died (or
 * froze) as it ran it, or handed back by a worker that stopped as it ran it; and what a stop that
 * finds it so must do: cancel it for good. The steps before the requeue serve alone too: a task
 * whose worker process was killed as it ran it, no monitor started
 * (test/cli-wait-running-dead-worker.test.ts). Each worker, process and monitor is stopped by
 * the test's `cleanup`.
 */
import { expect } from 'vitest';
import { Monitor, Worker, type Client, type MonitorOptions, type SubmitOptions } from '../../src/index.js';
import { spawnWorker, type WorkerProcess } from './processes.js';
import { until } from './redis-server.js';

type Cleanup = (() => Promise<unknown>)[];
type RedisOptions = Record<string, unknown>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A worker process of `sleep` alone (the fixture's), heartbeating every `heartbeatInterval` ms,
 * running a task of `sleep` for `ms` that `c` submitted with `options`: the process, and the
 * task's id once its function has started.
 */
export async function runningOnWorkerProcess(
  o: RedisOptions,
  c: Client,
  cleanup: Cleanup,
  { ms = 60_000, options, heartbeatInterval = 100 }: { ms?: number; options?: SubmitOptions; heartbeatInterval?: number } = {},
): Promise<{ worker: WorkerProcess; id: string }> {
  const worker = await spawnWorker({ port: 0, redis: o, heartbeatInterval }, [], ['sleep']);
  cleanup.push(() => worker.kill('SIGKILL'));
  const id = await c.submit('sleep', { ms }, options);
  await worker.waitFor(new RegExp(`^STARTED ${id} 1`));
  return { worker, id };
}

/** a task of `sleep` whose worker process was SIGKILLed as it ran it: RUNNING, its lease left to go stale */
export async function killedAsItRan(o: RedisOptions, c: Client, cleanup: Cleanup, opts?: Parameters<typeof runningOnWorkerProcess>[3]): Promise<string> {
  const { worker, id } = await runningOnWorkerProcess(o, c, cleanup, opts);
  await worker.kill('SIGKILL');
  return id;
}

/** a monitor that takes back a task whose lease is 300 ms stale, looking every 50 ms: started */
export async function startQuickMonitor(o: RedisOptions, cleanup: Cleanup, extra: Partial<MonitorOptions> = {}): Promise<Monitor> {
  const m = new Monitor({ redis: o, taskTimeout: 300, checkTaskInterval: 50, ...extra });
  cleanup.push(() => m.stop());
  await m.start();
  return m;
}

/** a task of `sleep` whose worker was SIGKILLed as it ran, requeued by a monitor: QUEUED, with no worker to take it */
export async function requeuedTask(o: RedisOptions, c: Client, cleanup: Cleanup, options?: SubmitOptions): Promise<string> {
  const id = await killedAsItRan(o, c, cleanup, { options });
  const m = await startQuickMonitor(o, cleanup);
  await until(async () => (await c.get(id))?.state === 'QUEUED', 'the task requeued', 10_000);
  await m.stop();
  return id;
}

/** a function that runs until aborted; `runs` counts its calls */
function untilAborted() {
  const seen = { runs: 0 };
  const fn = (t: { signal: AbortSignal }) => {
    seen.runs++;
    return new Promise((_, reject) => t.signal.addEventListener('abort', () => reject(new Error('aborted'))));
  };
  return { seen, fn };
}

/**
 * Tasks of function `fn` that `c` submitted, one with each of `options`, handed back by the
 * worker that ran them (`workerOptions`, a stop grace of 100 ms) as it stopped: queued again.
 */
export async function handedBackTasks(
  o: RedisOptions,
  c: Client,
  cleanup: Cleanup,
  fn: string,
  options: (SubmitOptions | undefined)[],
  workerOptions: { concurrency?: number } = {},
): Promise<string[]> {
  const first = untilAborted();
  const w = new Worker({ port: 0, redis: o, stopGrace: 100, ...workerOptions });
  w.addTaskFunction(fn, first.fn);
  cleanup.push(() => w.stop());
  await w.start();
  const ids: string[] = [];
  for (const opts of options) ids.push(await c.submit(fn, null, opts));
  await until(async () => first.seen.runs === ids.length, 'the first attempts running', 15_000);
  await w.stop();
  return ids;
}

/** a task of function `fn` that `c` submitted with `options`, handed back by the worker that ran it as it stopped: queued again */
export async function handedBack(o: RedisOptions, c: Client, cleanup: Cleanup, fn: string, options?: SubmitOptions): Promise<string> {
  const [id] = await handedBackTasks(o, c, cleanup, fn, [options]);
  return id!;
}

/** a worker of `fn` that counts its runs, started now: a task still queued runs here (until aborted) */
export async function nextWorker(o: RedisOptions, cleanup: Cleanup, fn = 'sleep') {
  const next = untilAborted();
  const w = new Worker({ port: 0, redis: o });
  w.addTaskFunction(fn, next.fn);
  cleanup.push(() => w.stop());
  await w.start();
  return next.seen;
}

/** a stop of each of `ids` cancels it, and a worker of their function `fn` started after never runs them */
export async function expectCancelledForGood(o: RedisOptions, c: Client, cleanup: Cleanup, ids: string[], fn = 'sleep') {
  for (const id of ids) expect(await c.control(id, 'stop')).toBe('cancelled');
  for (const id of ids) expect(await c.get(id)).toMatchObject({ state: 'END', outcome: 'cancelled' });
  const seen = await nextWorker(o, cleanup, fn);
  await sleep(500);
  expect(seen.runs).toBe(0);
}
