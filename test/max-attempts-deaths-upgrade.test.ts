/**
 * maxAttempts counts a task's deaths in its hash's `deaths`, a field the version before did not
 * write (it counted deaths in the claims, `attempt`, and the history's `died` records). A hash
 * without it reads its deaths from its history: a task RUNNING across the upgrade, whose worker
 * had died 4 times already, is parked at its next death under maxAttempts 5, not given 4 more.
 * A retried dead letter, whose history is kept, counts from 0 (retry-dead writes `deaths` 0).
 */
import { describe, expect, it } from 'vitest';
import { Client, Monitor } from '../src/index.js';
import { spawnWorker } from './helpers/processes.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

describe('maxAttempts across the upgrade that added `deaths`', () => {
  for (const [what, deathsField, expected] of [
    ['no `deaths`, as written before they were counted: parked at its 5th death (maxAttempts 5)', undefined, { state: 'END', outcome: 'failed', parked: { reason: 'max_attempts' } }],
    ['`deaths` 0, as retry-dead writes it (the history kept): requeued, its first death since', '0', { state: 'QUEUED' }],
  ] as const) {
    it(`a task whose history holds 4 deaths, ${what}`, async () => {
      const o = server.options();
      const r = server.client();
      cleanup.push(async () => void r.disconnect());
      const c = new Client({ redis: o });
      cleanup.push(() => c.close());
      const id = await c.submit('nap', { ms: 60_000 });
      const w = await spawnWorker({ port: 0, redis: o, concurrency: 1, heartbeatInterval: 200 });
      cleanup.push(() => w.kill());
      await w.waitFor(new RegExp(`^STARTED ${id} 1$`), 15_000);
      await w.kill('SIGKILL');
      // what the version before a21e53b left on a task claimed for the 5th time, its worker dead
      // in each of the 4 before: attempt 5, 4 `died` records, no `deaths`
      const key = `${o.keyPrefix}task-${id}`;
      const start = Number(await r.hget(key, 'start'));
      const died = [1, 2, 3, 4].map((a) => ({ attempt: a, worker: 'old:1', start: start - 10_000 * (5 - a), end: start - 10_000 * (5 - a) + 5000, outcome: 'died', reason: 'heartbeat timeout' }));
      await r.hset(key, 'attempt', '5', 'claims', '5', 'history', JSON.stringify(died));
      if (deathsField !== undefined) await r.hset(key, 'deaths', deathsField);
      const m = new Monitor({ redis: o, taskTimeout: 1000, checkTaskInterval: 100, maxAttempts: 5 });
      await m.start();
      cleanup.push(() => m.stop());
      const seen = await until(async () => {
        const t = await c.get(id);
        return t && t.state !== 'RUNNING' ? t : null;
      }, 'the monitor to requeue or park the task', 15_000);
      const deaths = await r.hget(key, 'deaths');
      expect(seen, `deaths ${deaths} after it`).toMatchObject(expected);
    }, 40_000);
  }
});
