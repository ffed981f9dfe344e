/**
 * Client.control(id, 'stop') of a running task holds when its pub/sub message does not: Redis
 * keeps what pub/sub does not (stop.lua marks the task `cancelling`, as cancel does).
 * - A stop published while the worker's control subscription was being made again reached no
 *   one, and the task ran to its end though told to stop: the worker's next heartbeat now stops
 *   it.
 * - A stop for a task whose worker then died (frozen, then killed, the message unread): the
 *   monitor requeued the task and another worker ran it again. It is now ended `cancelled` there,
 *   run by no one.
 * - A stop for a task not running changes nothing but its channel: a queued task is not
 *   cancelled by it (that is `cancel`), and runs.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker, type RedisOptions } from '../src/index.js';
import { runningOnWorkerProcess, startQuickMonitor } from './helpers/queued-again.js';
import { spawnWorker } from './helpers/processes.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

/** a function that runs 30 s unless aborted; `runs` counts its calls, `aborted` its aborts */
function longFunction() {
  const seen = { runs: 0, aborted: 0 };
  const fn = (t: { signal: AbortSignal }) =>
    new Promise((_, reject) => {
      seen.runs++;
      const timer = setTimeout(() => reject(new Error('ran to its end')), 30_000);
      t.signal.addEventListener('abort', () => {
        seen.aborted++;
        clearTimeout(timer);
        reject(new Error('aborted'));
      });
    });
  return { seen, fn };
}

/** task `id`, whose worker died: a monitor ends it cancelled, and another worker of its function `fn`, idle, never runs it again */
async function expectCancelledByMonitor(o: RedisOptions, c: Client, id: string, fn: string): Promise<void> {
  const other = longFunction();
  const w = new Worker({ port: 0, redis: o, heartbeatInterval: 100 });
  w.addTaskFunction(fn, other.fn);
  cleanup.push(() => w.stop());
  await w.start();
  await startQuickMonitor(o, cleanup);
  expect(await c.wait(id, { timeout: 10_000 })).toMatchObject({ state: 'END', outcome: 'cancelled' });
  expect(other.seen.runs).toBe(0);
}

describe('a control stop of a running task whose message is lost', () => {
  it('while the worker hears no control message: the next heartbeat stops it, it ends stopped', async () => {
    const o = server.options();
    const long = longFunction();
    const w = new Worker({ port: 0, redis: o, heartbeatInterval: 200 });
    w.addTaskFunction('long', long.fn);
    const c = new Client({ redis: o });
    const admin = new Redis(server.port);
    cleanup.push(async () => admin.disconnect(), () => c.close(), () => w.stop());
    await w.start();
    const id = await c.submit('long');
    await until(async () => (await c.get(id))?.state === 'RUNNING', 'the task running');
    await until(async () => Number(await admin.call('PUBSUB', 'NUMPAT')) >= 1, "the worker's control subscription");
    // every subscriber connection dropped: the worker's comes back within ~50 ms, resubscribed;
    // the stop is published before that
    await admin.client('KILL', 'TYPE', 'pubsub');
    await c.control(id, 'stop');
    expect(await c.wait(id, { timeout: 5000 })).toMatchObject({ outcome: 'stopped' });
    expect(long.seen).toEqual({ runs: 1, aborted: 1 });
  }, 30_000);

  it('whose worker died before it read it: the monitor ends it cancelled, and no other worker runs it again', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const { worker: dead, id } = await runningOnWorkerProcess(o, c, cleanup);
    dead.proc.kill('SIGSTOP');
    await c.control(id, 'stop');
    await dead.kill('SIGKILL');
    await expectCancelledByMonitor(o, c, id, 'sleep');
  }, 30_000);
});

describe('a stop published by another client (a raw PUBLISH on the control channel, as the seed describes)', () => {
  it('heard by the worker, which then froze and died before the task ended: the monitor ends it cancelled, and no other worker runs it again', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    const admin = new Redis(server.port);
    cleanup.push(async () => admin.disconnect(), () => c.close());
    // a function that ignores its signal: the task ends only abortTimeout after the stop
    const dead = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 100, abortTimeout: 20_000 }, [], ['stubborn']);
    cleanup.push(() => dead.kill('SIGKILL'));
    const id = await c.submit('stubborn', { ms: 60_000 });
    await dead.waitFor(new RegExp(`^STARTED ${id} 1`));
    await admin.publish(`${o.keyPrefix ?? ""}task-${id}-control`, "stop");
    // (heard: the run's signal fired)
    await dead.waitFor(new RegExp(`^REASON ${id} `));
    await new Promise((r) => setTimeout(r, 200));
    dead.proc.kill('SIGSTOP');
    await dead.kill('SIGKILL');
    await expectCancelledByMonitor(o, c, id, 'stubborn');
  }, 30_000);
});

describe('a control stop of a task that is not running', () => {
  it('leaves a queued task queued: it runs once a worker claims it', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('quick');
    await c.control(id, 'stop');
    const w = new Worker({ port: 0, redis: o });
    w.addTaskFunction('quick', async () => 'ran');
    cleanup.push(() => w.stop());
    await w.start();
    expect(await c.wait(id, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', result: 'ran' });
  }, 30_000);
});
