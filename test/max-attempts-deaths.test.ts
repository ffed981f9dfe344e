/**
 * `maxAttempts` caps the claims of a task whose worker died (src/config.ts, docs/semantics.md
 * "Requeue, retries and poison tasks"): the deaths, counted in the task's hash (`deaths`,
 * requeue.lua). Tries that threw or timed out count against the task's own `attempts` only: a
 * task with attempts left whose earlier tries threw is requeued at its first death, not parked.
 */
import { describe, expect, it } from 'vitest';
import { Client, Monitor } from '../src/index.js';
import { spawnWorker, type WorkerProcess } from './helpers/processes.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

async function worker(o: object): Promise<WorkerProcess> {
  const w = await spawnWorker({ port: 0, redis: o, concurrency: 2, heartbeatInterval: 200 });
  cleanup.push(() => w.kill());
  return w;
}

/** a monitor of taskTimeout 1 s and maxAttempts 2 on a fresh prefix, and a client of it */
async function monitored() {
  const o = server.options();
  const m = new Monitor({ redis: o, taskTimeout: 1000, checkTaskInterval: 100, maxAttempts: 2 });
  await m.start();
  cleanup.push(() => m.stop());
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return { o, c };
}

describe('maxAttempts counts deaths, not every claim', () => {
  it('a task of 4 attempts whose first try threw and whose worker died once is requeued, not parked (maxAttempts 2)', async () => {
    const { o, c } = await monitored();
    // attempt 1 throws after 300 ms (retried after 100 ms); attempt 2 takes 3 s and its worker is
    // SIGKILLed meanwhile: one death, well under maxAttempts 2 deaths, and 2 of 4 attempts left
    const id = await c.submit('flaky', { fails: 1, ms: 3000 }, { attempts: 4, backoff: 100 });
    const a = await worker(o);
    await a.waitFor(new RegExp(`^STARTED ${id} 2$`), 15_000);
    await a.kill('SIGKILL');
    await worker(o);
    const t = await c.wait(id, { timeout: 20_000 });
    expect(t.parked, `parked after one death: ${t.error?.message}`).toBeUndefined();
    expect(t).toMatchObject({ state: 'END', outcome: 'succeeded', attempt: 3 });
    expect(t.history!.map((h) => h.outcome)).toEqual(['failed', 'died', 'succeeded']);
  }, 40_000);

  it('the same task whose worker then dies a second time is parked at its maxAttempts deaths, attempts left or not, and says so', async () => {
    const { o, c } = await monitored();
    // attempt 1 throws; attempts 2 and 3 take 3 s each and their workers are SIGKILLed: 2 deaths
    const id = await c.submit('flaky', { fails: 1, ms: 3000 }, { attempts: 4, backoff: 100 });
    for (const attempt of [2, 3]) {
      const w = await worker(o);
      await w.waitFor(new RegExp(`^STARTED ${id} ${attempt}$`), 15_000);
      await w.kill('SIGKILL');
    }
    const t = await c.wait(id, { timeout: 20_000 });
    expect(t).toMatchObject({ state: 'END', outcome: 'failed', parked: { reason: 'max_attempts' }, error: { code: 'ERR_MAX_ATTEMPTS' } });
    expect(t.error!.message).toBe(`task "${id}"'s worker died in 2 of its 3 attempts (maxAttempts 2)`);
    expect(t.history!.map((h) => h.outcome)).toEqual(['failed', 'died', 'died']);
  }, 40_000);
});
