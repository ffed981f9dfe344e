/**
 * Retries (issue 8): a task tries `attempts` times in all, whatever ends each try (a throw, its
 * worker's death), waiting its backoff between tries on Redis's clock; a NonRetryableError ends
 * it at once. Every attempt is in its history; each retry is announced by a `retrying` event.
 * Real worker processes, a real Redis, a monitor only where a death must be noticed.
 */
import { describe, expect, it } from 'vitest';
import { Client, Monitor, type TaskEvent, type TaskInfo } from '../src/index.js';
import { spawnWorker, type WorkerProcess } from './helpers/processes.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

/** Far longer than any wait below: a retry that starts in time was not found by a poll. */
const POLL = 30_000;

async function worker(o: object): Promise<WorkerProcess> {
  const w = await spawnWorker({ port: 0, redis: o, concurrency: 4, fetchTaskInterval: POLL, heartbeatInterval: 200 });
  cleanup.push(() => w.kill());
  return w;
}

function client(o: object): Client {
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return c;
}

/** the events of task `id` from now on */
function follow(c: Client, id: string): TaskEvent[] {
  const events: TaskEvent[] = [];
  cleanup.push(async () => c.subscribe(id, (e) => events.push(e))());
  c.subscribe(id, (e) => events.push(e));
  return events;
}

/** the wait between attempts, on Redis's clock: each attempt's start minus the previous one's end */
const gaps = (t: TaskInfo) => t.history!.slice(1).map((h, i) => h.start! - t.history![i]!.end);

describe('a task that throws', () => {
  it('is tried again after its backoff until it succeeds, each attempt in its history', async () => {
    const o = server.options();
    await worker(o);
    const c = client(o);
    const id = 'fails-twice';
    const events = follow(c, id);
    await c.submit('flaky', { fails: 2 }, { id, attempts: 3, backoff: 300 });
    const t = await c.wait(id, { timeout: 10_000 });
    expect(t).toMatchObject({ state: 'END', outcome: 'succeeded', attempt: 3, result: { attempt: 3 } });
    expect(t.history!.map((h) => [h.attempt, h.outcome])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
      [3, 'succeeded'],
    ]);
    expect(t.history![0]!.error).toMatchObject({ message: 'attempt 1 failed on purpose' });
    // the backoff, measured on Redis's clock: not before, and well within the poll (woken, not polled)
    for (const g of gaps(t)) {
      expect(g).toBeGreaterThanOrEqual(300);
      expect(g).toBeLessThan(1300);
    }
    const retrying = events.filter((e) => e.event === 'retrying').map((e) => e.data as { attempt: number; runAt: number; error: { message: string } });
    expect(retrying.map((r) => r.attempt)).toEqual([1, 2]);
    expect(retrying[0]!.runAt).toBe(t.history![0]!.end + 300);
  });

  it('that succeeds at last ends with its result and no error: the failed attempts\' errors are in its history only', async () => {
    const o = server.options();
    await worker(o);
    const c = client(o);
    const id = await c.submit('flaky', { fails: 1 }, { attempts: 2 });
    const t = await c.wait(id, { timeout: 10_000 });
    expect(t).toMatchObject({ state: 'END', outcome: 'succeeded', attempt: 2 });
    expect(t.error).toBeUndefined();
    expect(t.history![0]).toMatchObject({ outcome: 'failed', error: { message: 'attempt 1 failed on purpose' } });
  });

  it('cancelled in its backoff ends cancelled with no error: the failed attempt\'s error is in its history only', async () => {
    const o = server.options();
    await worker(o);
    const c = client(o);
    const id = await c.submit('flaky', { fails: 10 }, { attempts: 3, backoff: 60_000 });
    await until(async () => (await c.get(id))?.state === 'DELAYED', `${id} to wait its backoff`);
    expect(await c.cancel(id)).toBe('cancelled');
    const t = await c.wait(id, { timeout: 10_000 });
    expect(t).toMatchObject({ state: 'END', outcome: 'cancelled', attempt: 1 });
    expect(t.error).toBeUndefined();
    expect(t.history).toHaveLength(1);
    expect(t.history![0]).toMatchObject({ outcome: 'failed', error: { message: 'attempt 1 failed on purpose' } });
  });

  it('ends failed when its attempts are spent, every one in its history', async () => {
    const o = server.options();
    await worker(o);
    const c = client(o);
    const id = await c.submit('flaky', { fails: 10 }, { attempts: 2 });
    const t = await c.wait(id, { timeout: 10_000 });
    expect(t).toMatchObject({ state: 'END', outcome: 'failed', attempt: 2, error: { message: 'attempt 2 failed on purpose' } });
    expect(t.history!.map((h) => [h.attempt, h.outcome])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
    ]);
  });

  it('ends failed at once on a NonRetryableError, attempts left or not', async () => {
    const o = server.options();
    const w = await worker(o);
    const c = client(o);
    const id = await c.submit('flaky', { nonRetryable: true }, { attempts: 5, backoff: 10 });
    const t = await c.wait(id, { timeout: 10_000 });
    expect(t).toMatchObject({ outcome: 'failed', attempt: 1, error: { name: 'NonRetryableError', code: 'ERR_NON_RETRYABLE' } });
    await new Promise((r) => setTimeout(r, 300));
    expect(w.lines.filter((l) => l.startsWith(`STARTED ${id} `))).toEqual([`STARTED ${id} 1`]);
  });

  it('waits an exponential backoff, doubled after each failure and capped by max', async () => {
    const o = server.options();
    await worker(o);
    const c = client(o);
    const id = await c.submit('flaky', { fails: 4 }, { attempts: 5, backoff: { type: 'exponential', delay: 100, max: 500 } });
    const t = await c.wait(id, { timeout: 15_000 });
    expect(t).toMatchObject({ outcome: 'succeeded', attempt: 5 });
    const want = [100, 200, 400, 500];
    gaps(t).forEach((g, i) => {
      expect(g, `wait before attempt ${i + 2}`).toBeGreaterThanOrEqual(want[i]!);
      expect(g, `wait before attempt ${i + 2}`).toBeLessThan(want[i]! + 1000);
    });
  });

  it('is DELAYED between attempts, with its due time and reason, and runs on another worker when its own is SIGKILLed meanwhile', async () => {
    const o = server.options();
    const a = await worker(o);
    const c = client(o);
    const id = await c.submit('flaky', { fails: 1 }, { attempts: 2, backoff: 2000 });
    await a.waitFor(new RegExp(`^STARTED ${id} 1$`));
    const delayed = await until(async () => {
      const t = await c.get(id);
      return t?.state === 'DELAYED' ? t : undefined;
    }, 'the retry DELAYED');
    expect(delayed).toMatchObject({ reason: 'retry', attempt: 1, error: { message: 'attempt 1 failed on purpose' } });
    expect(delayed.runAt).toBe(delayed.history![0]!.end + 2000);
    await a.kill('SIGKILL');
    // nothing of the retry lived in the dead worker: another one takes it when due
    const b = await worker(o);
    // (Redis runs on this host: its clock is ours) the new worker may come up after the due time
    // on a loaded machine: it takes the task promptly from when both are so
    const ready = Date.now();
    const t = await c.wait(id, { timeout: 10_000 });
    expect(t).toMatchObject({ outcome: 'succeeded', attempt: 2, worker: b.address });
    expect(t.start! - delayed.runAt!).toBeGreaterThanOrEqual(0);
    expect(t.start! - Math.max(delayed.runAt!, ready)).toBeLessThan(1000);
  });
});

describe("an entry pushed by hand, in the seed's format", () => {
  it('carries attempts and backoff as fields of its JSON, and is retried as a submitted task is', async () => {
    const o = server.options() as { keyPrefix: string };
    await worker(o);
    const c = client(o);
    const r = server.client();
    cleanup.push(async () => r.disconnect());
    await r.lpush(`${o.keyPrefix}new-task`, JSON.stringify({ id: 'by-hand', function: 'flaky', data: { fails: 1 }, attempts: 2, backoff: 100 }));
    const t = await until(async () => {
      const x = await c.get('by-hand');
      return x?.state === 'END' ? x : undefined;
    }, 'the hand-pushed task ended');
    expect(t).toMatchObject({ outcome: 'succeeded', attempt: 2 });
    expect(t.history!.map((h) => h.outcome)).toEqual(['failed', 'succeeded']);
    expect(gaps(t)[0]).toBeGreaterThanOrEqual(100);
  });
});

describe('an attempt that times out', () => {
  it('is retried like a throw while attempts are left, then ends failed with the TimeoutError', async () => {
    const o = server.options();
    const w = await spawnWorker({ port: 0, redis: o, concurrency: 2, fetchTaskInterval: POLL, abortTimeout: 200 }, [], ['honest', 'stubborn']);
    cleanup.push(() => w.kill());
    const c = client(o);
    const honest = await c.submit('honest', { ms: 5000 }, { timeout: 200, attempts: 2, backoff: 100 });
    const stubborn = await c.submit('stubborn', { ms: 1000 }, { timeout: 200, attempts: 2, backoff: 100 });
    for (const id of [honest, stubborn]) {
      const t = await c.wait(id, { timeout: 10_000 });
      expect(t, id).toMatchObject({ outcome: 'failed', attempt: 2, error: { name: 'TimeoutError', code: 'ERR_TIMEOUT' } });
      expect(t.history!.map((h) => [h.attempt, h.outcome, h.error?.name])).toEqual([
        [1, 'failed', 'TimeoutError'],
        [2, 'failed', 'TimeoutError'],
      ]);
    }
  });
});

describe('a worker that dies', () => {
  it("counts against the task's attempts: a task of two attempts whose worker dies twice is parked, both deaths in its history", async () => {
    const o = server.options();
    const m = new Monitor({ redis: o, taskTimeout: 1000, checkTaskInterval: 100, maxAttempts: 5 });
    await m.start();
    cleanup.push(() => m.stop());
    const c = client(o);
    const id = await c.submit('sleep', { ms: 60_000 }, { attempts: 2 });
    for (const attempt of [1, 2]) {
      const w = await worker(o);
      await w.waitFor(new RegExp(`^STARTED ${id} ${attempt}$`), 10_000);
      await w.kill('SIGKILL');
    }
    const t = await c.wait(id, { timeout: 10_000 });
    expect(t).toMatchObject({ state: 'END', outcome: 'failed', attempt: 2, parked: { reason: 'max_attempts' } });
    expect(t.error!.message).toMatch(/used its 2 attempts/);
    expect(t.history!.map((h) => [h.attempt, h.outcome, h.reason])).toEqual([
      [1, 'died', 'heartbeat timeout'],
      [2, 'died', 'heartbeat timeout'],
    ]);
  });

  it('is requeued at once, not after a backoff, and the next attempt may still retry a throw', async () => {
    const o = server.options();
    const m = new Monitor({ redis: o, taskTimeout: 1000, checkTaskInterval: 100 });
    await m.start();
    cleanup.push(() => m.stop());
    const c = client(o);
    // attempt 1 dies (SIGKILL during its 1.5 s), attempt 2 throws, attempt 3 succeeds; a
    // backoff long enough to tell "at once" from "after the backoff"
    const BACKOFF = 3000;
    const id = await c.submit('flaky', { fails: 2, ms: 1500 }, { attempts: 3, backoff: BACKOFF });
    const a = await worker(o);
    await a.waitFor(new RegExp(`^STARTED ${id} 1$`), 10_000);
    await a.kill('SIGKILL');
    await worker(o);
    const t = await c.wait(id, { timeout: 20_000 });
    expect(t).toMatchObject({ outcome: 'succeeded', attempt: 3 });
    expect(t.history!.map((h) => h.outcome)).toEqual(['died', 'failed', 'succeeded']);
    const [afterDeath, afterThrow] = gaps(t);
    expect(afterDeath, 'wait between the death and attempt 2').toBeLessThan(BACKOFF);
    expect(afterThrow, 'wait between the throw and attempt 3').toBeGreaterThanOrEqual(BACKOFF);
  }, 30_000);
});
