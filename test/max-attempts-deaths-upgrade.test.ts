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

/** what a monitor of maxAttempts 5 makes of task `id`, whose worker is dead: the task as `get` reads it then, and its `deaths` */
async function monitorVerdict(o: ReturnType<RedisServer['options']>, c: Client, r: ReturnType<RedisServer['client']>, id: string, key: string) {
  const m = new Monitor({ redis: o, taskTimeout: 1000, checkTaskInterval: 100, maxAttempts: 5 });
  await m.start();
  cleanup.push(() => m.stop());
  const seen = await until(async () => {
    const t = await c.get(id);
    return t && t.state !== 'RUNNING' ? t : null;
  }, 'the monitor to requeue or park the task', 15_000);
  return { seen, deaths: await r.hget(key, 'deaths') };
}

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
      const { seen, deaths } = await monitorVerdict(o, c, r, id, key);
      expect(seen, `deaths ${deaths} after it`).toMatchObject(expected);
    }, 40_000);
  }
});

/**
 * A hash written before `deaths` was counted (the version before a21e53b) has its deaths read
 * from its history's `died` records (requeue.lua). The history is bounded at 64 KiB
 * (lib/history.lua): a retry of such a task, its history near the bound, dropped its oldest
 * records, the `died` ones with them, and its deaths were lost: worker dead 4 times before the
 * upgrade, it was requeued at its 5th death under maxAttempts 5 (its deaths read as 1), where
 * the same task without the bound is parked. A retry that drops records now writes the deaths it
 * read from the history first.
 */
describe('maxAttempts of a task from before `deaths`, its history cut by a retry', () => {
  it('parks it at its 5th death (maxAttempts 5), the 4 before read from records since dropped', async () => {
    const o = server.options();
    const r = server.client();
    cleanup.push(async () => void r.disconnect());
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    // attempt 1 throws after 3 s (retried), the next sleeps 3 s: its worker is killed in it
    const id = await c.submit('flaky', { fails: 1, ms: 3000 }, { attempts: 100 });
    const w = await spawnWorker({ port: 0, redis: o, concurrency: 1, heartbeatInterval: 200 });
    cleanup.push(() => w.kill());
    await w.waitFor(new RegExp(`^STARTED ${id} 1$`), 15_000);
    // what the version before left: 4 `died` records, then tries that threw, near 64 KiB in all,
    // claimed for the 25th time, no `deaths`
    const key = `${o.keyPrefix}task-${id}`;
    const start = Number(await r.hget(key, 'start'));
    const records: object[] = [1, 2, 3, 4].map((a) => ({ attempt: a, worker: 'old:1', start: start - 1000, end: start - 900, outcome: 'died', reason: 'heartbeat timeout' }));
    const failed = (a: number, n: number) => ({ attempt: a, worker: 'old:1', start: start - 800, end: start - 700, outcome: 'failed', error: { name: 'Error', message: 'y'.repeat(n) } });
    while (JSON.stringify(records).length < 62_000) records.push(failed(records.length + 1, 3000));
    // (the last one's message makes the whole 65,800 bytes, past 64 KiB as the version before let it grow: the retry's record takes it past 64 KiB)
    records.push(failed(records.length + 1, 3000 + 65_800 - JSON.stringify([...records, failed(0, 3000)]).length));
    const history = JSON.stringify(records);
    expect(history.length).toBeGreaterThan(65_750);
    expect(history.length).toBeLessThan(65_850);
    await r.hset(key, 'attempt', String(records.length + 1), 'claims', String(records.length + 1), 'history', history);

    const next = records.length + 2;
    await w.waitFor(new RegExp(`^STARTED ${id} ${next}$`), 20_000);
    // the retry cut the history: its `died` records are gone
    const cut = (await r.hget(key, 'history'))!;
    expect(cut.length).toBeLessThan(history.length);
    expect(cut.includes('"outcome":"died"')).toBe(false);
    await w.kill('SIGKILL');
    const { seen, deaths } = await monitorVerdict(o, c, r, id, key);
    expect(seen, `deaths ${deaths} after it`).toMatchObject({ state: 'END', outcome: 'failed', parked: { reason: 'max_attempts' } });
    expect(deaths).toBe('5');
  }, 60_000);
});
