/**
 * A worker frozen (SIGSTOP) while it ran a task: a monitor requeues the task and another worker
 * runs it; a `reload` sent then reaches both, the frozen one once it is thawed (pub/sub holds
 * the message on its connection). Its heartbeat has not told it yet that its lease is gone, and
 * the reload called the task's function again, from the start, on a claim that was no longer
 * its own: the task ran on two workers from the same instant. The reload reads the task's
 * `data` from its hash before its new run, and reads there, in the same call, whose the claim is:
 * another's, the copy is given up (abandoned, as a heartbeat finding its lease gone does) and
 * its function not called again.
 */
import { describe, expect, it } from 'vitest';
import { Client, Monitor, Worker, type Task } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { spawnWorker } from './helpers/processes.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a reload heard by a worker thawed after its task was requeued and claimed by another', () => {
  it('does not run the task again there: its copy is given up; the other runs it once more, as reloaded', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    // its heartbeats far apart: none falls between its thaw and the reload it hears then (one
    // that did would find the lease gone first, and give the copy up before the reload); one
    // slot, so that no wait of its own, left blocked on the queue, claims the task requeued
    const frozen = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 10_000, concurrency: 1 }, [], ['sleep']);
    cleanup.push(() => frozen.kill('SIGKILL'));
    const id = await c.submit('sleep', { ms: 4000 });
    await frozen.waitFor(new RegExp(`^STARTED ${id} 1`));
    frozen.proc.kill('SIGSTOP');

    const m = new Monitor({ redis: o, taskTimeout: 600, checkTaskInterval: 50 });
    cleanup.push(() => m.stop());
    await m.start();
    const w = new Worker({ port: 0, redis: o, heartbeatInterval: 100 });
    let runs = 0;
    w.addTaskFunction(
      'sleep',
      (t: Task) =>
        new Promise((resolve, reject) => {
          runs++;
          const timer = setTimeout(() => resolve('ran'), 1500);
          t.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(new Error('aborted'));
          });
        }),
    );
    cleanup.push(() => w.stop());
    await w.start();
    await until(() => runs === 1, 'the other worker running the task', 10_000);

    await c.control(id, 'reload');
    await until(() => runs === 2, 'the reload on the other worker');
    frozen.proc.kill('SIGCONT');
    expect(await c.wait(id, { timeout: 15_000 })).toMatchObject({ outcome: 'succeeded', result: 'ran', worker: w.address });
    // (a run made there would have begun by now: its re-read of data takes a round trip)
    await sleep(1000);
    // started once there, before it was frozen; aborted by the reload, not called again
    expect(frozen.lines.filter((l) => l.startsWith(`STARTED ${id} `)), frozen.lines.join("\n")).toHaveLength(1);
    expect(runs).toBe(2);
  }, 40_000);
});
