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
      if (tried >= 5) break;
    }
    expect(tried, 'no cancel landed on a running attempt').toBeGreaterThan(0);
  });
});
