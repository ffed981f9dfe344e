/**
 * Client.cancel of a running task marks it `cancelling` until the attempt ends. A task cancelled
 * while its worker was frozen, then killed, is parked by the monitor when that was its last
 * attempt (max_attempts), the mark still on its hash. Retried from the dead letters, it is a new
 * run the operator asked for: the old cancel must not stop it (the heartbeat stops a RUNNING
 * task that carries the mark) nor end it cancelled when it is claimed.
 */
import { describe, expect, it } from 'vitest';
import { Client, Monitor, Worker } from '../src/index.js';
import { spawnWorker } from './helpers/processes.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

describe('a dead letter of a task cancelled while it ran, retried', () => {
  it('runs to its end', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const dead = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 100 }, [], ['sleep']);
    cleanup.push(() => dead.kill('SIGKILL'));
    const id = await c.submit('sleep', { ms: 60_000 }, {});
    await dead.waitFor(new RegExp(`^STARTED ${id} 1`));
    // frozen: the cancel's stop reaches a process that never handles it, and it dies so
    dead.proc.kill('SIGSTOP');
    expect(await c.cancel(id)).toBe('stopping');
    await dead.kill('SIGKILL');

    const m = new Monitor({ redis: o, taskTimeout: 300, checkTaskInterval: 50, maxAttempts: 1 });
    cleanup.push(() => m.stop());
    await m.start();
    const parked = await until(async () => {
      const t = await c.get(id);
      return t?.state === 'END' && t.parked?.reason === 'max_attempts' ? t.parked : undefined;
    }, 'the task parked');
    expect(await c.retryDead(parked.key)).toBe(true);

    const w = new Worker({ port: 0, redis: o, heartbeatInterval: 100 });
    let aborted = 0;
    w.addTaskFunction('sleep', (t) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => resolve('slept'), 800);
        t.signal.addEventListener('abort', () => {
          aborted++;
          clearTimeout(timer);
          reject(new Error('aborted'));
        });
      }),
    );
    cleanup.push(() => w.stop());
    await w.start();
    expect(await c.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', result: 'slept' });
    expect(aborted).toBe(0);
  }, 30_000);
});
