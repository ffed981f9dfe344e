/**
 * Client.cancel of a running task marks it `cancelling` until the attempt ends, and the stop it
 * publishes may reach no one: the worker was frozen, then killed. The monitor that finds such a
 * task stale ends it cancelled. It was parked as failed when that was its last attempt (a dead
 * letter, MaxAttemptsError, for a task its user cancelled), else queued again, where it waited,
 * QUEUED though cancelled, until a worker of its function claimed it and ended it so.
 *
 * A task parked with the mark on it (by the worker that claimed it and could not start it),
 * then retried from the dead letters, is a new run the operator asked for: the old cancel must
 * not stop it (the heartbeat stops a RUNNING task that carries the mark) nor end it cancelled
 * when it is claimed.
 */
import { describe, expect, it } from 'vitest';
import { Client, Monitor, Worker } from '../src/index.js';
import { buildKeys } from '../src/keys.js';
import { resolveRedisConfig } from '../src/config.js';
import { claim, parkClaimed } from '../src/effects/queue.js';
import { spawnWorker } from './helpers/processes.js';
import { requestFor } from './properties/harness.js';
import type { RedisServer } from './helpers/redis-server.js';
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
    // a worker claims the task and finds it cannot start it; the task is cancelled meanwhile,
    // then parked by that worker (park-claimed.lua) with the mark on it
    const keys = buildKeys(resolveRedisConfig(o));
    const admin = server.client();
    cleanup.push(async () => admin.disconnect());
    const id = await c.submit('sleep', { ms: 60_000 });
    const [claimed] = (await claim(admin, keys, requestFor('w:1', 1, 1 << 20, ['sleep']))).claimed;
    expect(claimed?.id).toBe(id);
    expect(await c.cancel(id)).toBe('stopping');
    expect(await parkClaimed(admin, keys, 'w:1', [{ id, lease: claimed!.lease, reason: 'unrunnable', message: 'cannot start here' }])).toEqual([id]);
    const parked = (await c.get(id))!.parked!;
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

describe('a task cancelled while it ran, whose worker died before the stop reached it', () => {
  for (const maxAttempts of [1, 5]) {
    it(`ends cancelled at the monitor's sweep, neither parked nor queued again (maxAttempts ${maxAttempts})`, async () => {
      const o = server.options();
      const c = new Client({ redis: o });
      cleanup.push(() => c.close());
      const dead = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 100 }, [], ['sleep']);
      cleanup.push(() => dead.kill('SIGKILL'));
      const id = await c.submit('sleep', { ms: 60_000 });
      await dead.waitFor(new RegExp(`^STARTED ${id} 1`));
      dead.proc.kill('SIGSTOP');
      expect(await c.cancel(id)).toBe('stopping');
      await dead.kill('SIGKILL');
      // no worker of its function is left: a task queued again would wait there, cancelled
      const m = new Monitor({ redis: o, taskTimeout: 300, checkTaskInterval: 50, maxAttempts });
      cleanup.push(() => m.stop());
      await m.start();
      expect(await c.wait(id, { timeout: 10_000 })).toMatchObject({ state: 'END', outcome: 'cancelled' });
      expect(await c.deadLetters()).toEqual([]);
      expect((await c.stats()).functions.sleep?.queued ?? 0).toBe(0);
    }, 30_000);
  }
});
