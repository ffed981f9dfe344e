/**
 * An idle worker's wait leaves with its claim in one write, and Redis runs that claim when a
 * task arrives, whether the worker's process can read the reply or not. Frozen (SIGSTOP, a VM
 * paused), it holds a claim it does not know of: a monitor requeues the task as a dead worker's,
 * and it runs elsewhere, or a stop ends it. Thawed, the worker reads the claim's reply: a claim
 * that old is asked of Redis before its task starts, and a task no longer its own does not
 * start (it would run beside its next attempt, or after its stop). A claim still its own starts
 * as any other.
 */
import { describe, expect, it } from 'vitest';
import { Client, Monitor, Worker } from '../src/index.js';
import { spawnWorker, type WorkerProcess } from './helpers/processes.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** a worker process of `sleep` (`functions`), idle and blocked in its wait (a long poll), then frozen */
async function frozenWhileWaiting(o: Record<string, unknown>, functions: string[] | Record<string, { concurrency?: number }> = ['sleep']): Promise<WorkerProcess> {
  const w = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 100, fetchTaskInterval: 30_000 }, [], functions);
  cleanup.push(() => w.kill('SIGKILL'));
  await w.waitFor(/^STATE \{"connected":"waiting"\}/);
  // (its wait and claim are in Redis: written as it entered waiting, blocked there now)
  await sleep(100);
  w.proc.kill('SIGSTOP');
  cleanup.push(async () => void w.proc.kill('SIGCONT'));
  return w;
}

async function monitor(o: Record<string, unknown>, taskTimeout: number): Promise<Monitor> {
  const m = new Monitor({ redis: o, taskTimeout, checkTaskInterval: 50, logger: quiet });
  cleanup.push(() => m.stop());
  await m.start();
  return m;
}

/** a task of `sleep` for `ms` that the frozen worker's wait claimed, in Redis */
async function claimedWhileFrozen(o: Record<string, unknown>, c: Client, ms: number, functions?: Parameters<typeof frozenWhileWaiting>[1]): Promise<{ frozen: WorkerProcess; id: string }> {
  const frozen = await frozenWhileWaiting(o, functions);
  const id = await c.submit('sleep', { ms });
  await until(async () => (await c.get(id))?.worker === frozen.address, 'claimed by the frozen worker');
  return { frozen, id };
}

/** requeued by a monitor as a dead worker's */
async function requeued(o: Record<string, unknown>, c: Client, id: string): Promise<void> {
  await monitor(o, 300);
  await until(async () => (await c.get(id))?.state === 'QUEUED', 'requeued as a dead worker’s');
}

describe('a claim Redis ran for a frozen worker, its reply read once it thaws', () => {
  it('requeued meanwhile and run by another worker: the thawed worker does not start it, and it runs once', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const { frozen, id } = await claimedWhileFrozen(o, c, 400);
    await requeued(o, c, id);
    const starts: string[] = [];
    const other = new Worker({ port: 0, redis: o, heartbeatInterval: 50, logger: quiet });
    other.addTaskFunction('sleep', async ({ id: taskId }) => {
      starts.push(taskId);
      await sleep(2000);
      return 'ran';
    });
    cleanup.push(() => other.stop());
    await other.start();
    await until(() => starts.includes(id), 'run by the other worker');
    frozen.proc.kill('SIGCONT');
    await frozen.waitFor(/^WARN .*no longer its to run/, 5000);
    expect(await c.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', result: 'ran' });
    expect(frozen.lines.filter((l) => l.startsWith(`STARTED ${id}`)), frozen.lines.join('\n')).toEqual([]);
    expect(starts).toEqual([id]);
  }, 30_000);

  it('requeued and stopped meanwhile: it ends cancelled, never started by the thawed worker', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const { frozen, id } = await claimedWhileFrozen(o, c, 400);
    await requeued(o, c, id);
    expect(await c.control(id, 'stop')).toBe('cancelled');
    frozen.proc.kill('SIGCONT');
    const warned = await frozen.waitFor(/^WARN .*no longer its to run/, 5000);
    expect(warned).toContain(id);
    // (past the time its function would have taken)
    await sleep(800);
    expect(frozen.lines.filter((l) => l.startsWith(`STARTED ${id}`)), frozen.lines.join('\n')).toEqual([]);
    expect(await c.get(id)).toMatchObject({ state: 'END', outcome: 'cancelled' });
  }, 30_000);

  it('still its own (no monitor took it for dead yet): asked of Redis and started, and it succeeds', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    // (a claim read more than two heartbeats late is asked of Redis; frozen for less than the
    // monitor's taskTimeout, nothing requeued it)
    await monitor(o, 2000);
    const { frozen, id } = await claimedWhileFrozen(o, c, 200);
    await sleep(1300);
    frozen.proc.kill('SIGCONT');
    expect(await c.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded' });
    expect(frozen.lines.filter((l) => l.startsWith(`STARTED ${id}`))).toHaveLength(1);
    expect(frozen.lines.filter((l) => l.startsWith('WARN')), frozen.lines.join('\n')).toEqual([]);
  }, 30_000);

  it('stopped as it thaws, while it asks Redis of the claim: the task is handed back, not left RUNNING under a worker gone', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const { frozen, id } = await claimedWhileFrozen(o, c, 200);
    await sleep(600);
    // (as a service manager stops a unit: SIGTERM, then SIGCONT)
    const exited = new Promise((r) => frozen.proc.once('exit', r));
    frozen.proc.kill('SIGTERM');
    frozen.proc.kill('SIGCONT');
    expect(await exited).toBe(0);
    // (handed back; or, its claim confirmed before the stop was heard, run within the stop's
    // grace: never left RUNNING under a worker gone)
    const t = await c.get(id);
    if (t?.state === 'END') expect(t, frozen.lines.join('\n')).toMatchObject({ outcome: 'succeeded' });
    else expect(t, frozen.lines.join('\n')).toMatchObject({ state: 'QUEUED' });
  }, 30_000);

  it('its control subscription closed while it was frozen: the claim still its own runs, and its capped function claims again', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const admin = server.client();
    cleanup.push(async () => void (await admin.quit()));
    const { frozen, id: a } = await claimedWhileFrozen(o, c, 200, { sleep: { concurrency: 1 } });
    await sleep(300);
    // (Redis, a proxy or a NAT closes the frozen process's subscriber connection)
    await admin.client('KILL', 'TYPE', 'pubsub');
    await sleep(300);
    frozen.proc.kill('SIGCONT');
    expect(await c.wait(a, { timeout: 10_000 }), frozen.lines.join('\n')).toMatchObject({ outcome: 'succeeded' });
    const b = await c.submit('sleep', { ms: 100 });
    expect(await c.wait(b, { timeout: 10_000 }), frozen.lines.join('\n')).toMatchObject({ outcome: 'succeeded' });
  }, 30_000);
});
