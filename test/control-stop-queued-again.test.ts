/**
 * A control `stop` that finds its task queued again after a claim, between two attempts, cancels
 * it: its next attempt never runs. A caller sends a stop on seeing the task RUNNING; its worker
 * died (the monitor requeued it) or stopped (it handed the task back) just before, and the stop
 * found it QUEUED. stop.lua answered `idle` then, did nothing, and the task ran again on the next
 * worker, though told to stop; the caller was told nothing. `Client.control` now resolves with
 * what it did, and the CLI prints it.
 * A stop of a task that no claim has taken yet still does nothing (`cancel` removes a task that
 * waits), and says so.
 */
import { describe, expect, it } from 'vitest';
import { Client, Monitor, Worker } from '../src/index.js';
import { runMain } from './helpers/cli.js';
import { spawnWorker } from './helpers/processes.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** a function that runs 30 s unless aborted; `runs` counts its calls */
function longFunction() {
  const seen = { runs: 0 };
  const fn = (t: { signal: AbortSignal }) =>
    new Promise((_, reject) => {
      seen.runs++;
      const timer = setTimeout(() => reject(new Error('ran to its end')), 30_000);
      t.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(new Error('aborted'));
      });
    });
  return { seen, fn };
}

/** a task of `sleep` whose worker was SIGKILLed as it ran, requeued by a monitor: QUEUED, with no worker to take it */
async function requeuedTask(o: ReturnType<RedisServer['options']>, c: Client): Promise<string> {
  const dead = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 100 }, [], ['sleep']);
  cleanup.push(() => dead.kill('SIGKILL'));
  const id = await c.submit('sleep', { ms: 60_000 });
  await dead.waitFor(new RegExp(`^STARTED ${id} 1`));
  await dead.kill('SIGKILL');
  const m = new Monitor({ redis: o, taskTimeout: 300, checkTaskInterval: 50 });
  cleanup.push(() => m.stop());
  await m.start();
  await until(async () => (await c.get(id))?.state === 'QUEUED', 'the task requeued', 10_000);
  await m.stop();
  return id;
}

/** a worker of `sleep` that counts its runs, started now: a task still queued runs here */
async function nextWorker(o: ReturnType<RedisServer['options']>) {
  const next = longFunction();
  const w = new Worker({ port: 0, redis: o });
  w.addTaskFunction('sleep', next.fn);
  cleanup.push(() => w.stop());
  await w.start();
  return next.seen;
}

/** a stop of task `id` cancels it, and a worker of its function started after it never runs it */
async function expectCancelledForGood(o: ReturnType<RedisServer['options']>, c: Client, id: string) {
  expect(await c.control(id, 'stop')).toBe('cancelled');
  expect(await c.get(id)).toMatchObject({ state: 'END', outcome: 'cancelled' });
  const seen = await nextWorker(o);
  await sleep(500);
  expect(seen.runs).toBe(0);
}

describe('a control stop of a task queued again after a claim', () => {
  it('requeued by a monitor (its worker died): cancelled, and no other worker runs it', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await requeuedTask(o, c);
    await expectCancelledForGood(o, c, id);
  }, 30_000);

  it('handed back by its worker as it stopped (the attempt given back: attempt 0): cancelled, and no other worker runs it', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const first = longFunction();
    const w = new Worker({ port: 0, redis: o, stopGrace: 100 });
    w.addTaskFunction('sleep', first.fn);
    cleanup.push(() => w.stop());
    await w.start();
    const id = await c.submit('sleep');
    await until(async () => first.seen.runs === 1, 'the task running');
    await w.stop();
    expect(await c.get(id)).toMatchObject({ state: 'QUEUED', attempt: 0 });
    await expectCancelledForGood(o, c, id);
  }, 30_000);

  it('through the CLI: says it was cancelled between attempts', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await requeuedTask(o, c);
    const r = await runMain(['control', id, 'stop', '--key-prefix', o.keyPrefix!], { REDIS_URL: server.url });
    expect(r).toEqual({ code: 0, stdout: `task ${id} was between attempts (queued to run again): cancelled, its next attempt will not run\n`, stderr: '' });
    expect(await c.get(id)).toMatchObject({ state: 'END', outcome: 'cancelled' });
  }, 30_000);
});

describe('what a control resolves with', () => {
  it('a stop of a task no claim has taken yet does nothing and says `waiting`; it still runs', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('sleep');
    expect(await c.control(id, 'stop')).toBe('waiting');
    const seen = await nextWorker(o);
    await until(async () => seen.runs === 1, 'the task running');
    expect(await c.control(id, 'stop')).toBe('stopping');
    expect(await c.wait(id, { timeout: 5000 })).toMatchObject({ outcome: 'stopped' });
    expect(await c.control(id, 'stop')).toBe('ended');
    expect(await c.control(id, 'reload')).toBe('sent');
  }, 30_000);
});
