/**
 * Review of issue 8's cancel of a RUNNING task that has attempts left: "RUNNING: stopped, ends
 * 'stopped'". cancel.lua answers 'running' and Client.cancel then publishes a stop on the task's
 * control channel. A stop is a pub/sub message for whoever runs the task now: when the attempt
 * fails between the two (or while the stop is in flight), the failure is written as a retry
 * (DELAYED), the stop reaches no one, and the task goes on with its next attempts: cancel said
 * 'stopping' and the task runs on, up to its last attempt.
 *
 * A task that fails at once with many attempts and no backoff is RUNNING a good part of the
 * time: cancel it until one cancel lands while it runs.
 */
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { spawnWorker } from './helpers/processes.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

describe('cancel of a running task with attempts left', () => {
  it('ends the task: no attempt starts after a cancel answered stopping', async () => {
    const o = server.options();
    const w = await spawnWorker({ port: 0, redis: o, concurrency: 4, fetchTaskInterval: 200, heartbeatInterval: 200 });
    cleanup.push(() => w.kill());
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    let tried = 0;
    for (let round = 0; round < 40; round++) {
      const id = await c.submit('flaky', { fails: 1000 }, { attempts: 1000 });
      await w.waitFor(new RegExp(`^STARTED ${id} 3$`));
      const r = await c.cancel(id);
      if (r !== 'stopping') continue;
      tried++;
      const t = await until(async () => {
        const x = await c.get(id);
        return x?.state === 'END' ? x : null;
      }, `task ${id} to end after a cancel that answered stopping`, 4000);
      expect(t.outcome, `cancelled at attempt ${t.attempt}`).toMatch(/stopped|cancelled/);
      // the attempt the cancel stopped is the last: every one before it failed by itself, and
      // none starts after it
      const outcomes = t.history!.map((h) => h.outcome);
      expect(outcomes.slice(0, -1).filter((x) => x !== 'failed'), `${id}: attempts before the stopped one`).toEqual([]);
      await new Promise((r) => setTimeout(r, 500));
      const started = w.lines.filter((l) => l.startsWith(`STARTED ${id} `)).map((l) => Number(l.split(' ')[2]));
      expect(Math.max(...started), `${id}: the last attempt started`).toBe(t.attempt);
      if (tried >= 5) break;
    }
    expect(tried, 'no cancel landed on a running attempt').toBeGreaterThan(0);
  });
});

describe('cancel of a running task whose worker is gone', () => {
  it('ends the task once the monitor takes it back: it does not run again', async () => {
    const o = server.options();
    const { Monitor } = await import('../src/index.js');
    const m = new Monitor({ redis: o, taskTimeout: 400, checkTaskInterval: 50 });
    await m.start();
    cleanup.push(() => m.stop());
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const a = await spawnWorker({ port: 0, redis: o, concurrency: 4, fetchTaskInterval: 200, heartbeatInterval: 100 });
    cleanup.push(() => a.kill());
    const id = await c.submit('sleep', { ms: 20_000 }, { key: 'one-at-a-time' });
    await a.waitFor(new RegExp(`^STARTED ${id} `));
    await a.kill('SIGKILL');
    // its worker is dead: the stop reaches no one
    expect(await c.cancel(id)).toBe('stopping');
    const b = await spawnWorker({ port: 0, redis: o, concurrency: 4, fetchTaskInterval: 200, heartbeatInterval: 100 });
    cleanup.push(() => b.kill());
    const t = await c.wait(id, { timeout: 6000 });
    expect(b.lines.some((l) => l.startsWith(`STARTED ${id} `)), 'the cancelled task ran again').toBe(false);
    expect(t.outcome).toBe('cancelled');
    // its dedupe key is free again
    expect(await c.submit('echo', 'next', { key: 'one-at-a-time' })).not.toBe(id);
  });
});
