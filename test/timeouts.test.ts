/**
 * Per-attempt timeouts (issue 8), on real worker processes and a real Redis: the task's signal
 * aborts with a TimeoutError when its `timeout` is up, and the attempt ends failed with that
 * error once the function settles, or abortTimeout later when it ignores the signal, or as soon
 * as a function that blocked the event loop past its deadline lets go; whatever it returned.
 * A function done in time is unaffected. `end - start` in the hash is the time it was given.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, buildKeys, type Keys } from '../src/index.js';
import { resolveRedisConfig } from '../src/config.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { spawnWorker, type WorkerProcess } from './helpers/processes.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});
const procs: WorkerProcess[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) await p.kill('SIGKILL');
});

const ABORT_TIMEOUT = 600;
/**
 * Room for a loaded machine between the deadline and the END reaching Redis: each bound below
 * stays short of what the attempt would take were the rule it checks broken (the function's own
 * end, or abortTimeout more).
 */
const SLACK = 500;
/** the keys of the test under way (each setup has its own prefix) */
let keys: Keys;
async function setup() {
  const o = server.options();
  const w = await spawnWorker({ port: 0, redis: o, abortTimeout: ABORT_TIMEOUT }, [], ['honest', 'stubborn', 'busy']);
  procs.push(w);
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  keys = buildKeys(resolveRedisConfig(o));
  return { w, c };
}

/** the ended task (kept: manualEnd), and how long its attempt lasted on Redis's clock */
async function ended(c: Client, id: string) {
  const info = await c.wait(id, { timeout: 10_000 });
  const h = await redis.hgetall(keys.task(id));
  return { info, took: Number(h.end) - Number(h.start) };
}

describe('per-attempt timeout', () => {
  it('a function that honours its signal ends failed (TimeoutError) right after the timeout; the reason is a TimeoutError', async () => {
    const { w, c } = await setup();
    const id = await c.submit('honest', { ms: 5000 }, { timeout: 300, manualEnd: true });
    const { info, took } = await ended(c, id);
    expect(info.outcome).toBe('failed');
    expect(info.error).toMatchObject({ name: 'TimeoutError', code: 'ERR_TIMEOUT' });
    expect(info.error!.message).toMatch(/timed out.*timeout of 300 ms/);
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(300 + SLACK); // not abortTimeout later (900), nor its 5 s
    expect(w.lines).toContain(`REASON ${id} TimeoutError ERR_TIMEOUT`);
  });

  it('a function that ignores its signal ends failed (TimeoutError) abortTimeout after the timeout, whatever it returns', async () => {
    const { w, c } = await setup();
    const id = await c.submit('stubborn', { ms: 3000 }, { timeout: 300, manualEnd: true });
    const { info, took } = await ended(c, id);
    expect(info.outcome).toBe('failed');
    expect(info.error).toMatchObject({ name: 'TimeoutError', code: 'ERR_TIMEOUT' });
    expect(took).toBeGreaterThanOrEqual(300 + ABORT_TIMEOUT - 10);
    expect(took).toBeLessThan(300 + ABORT_TIMEOUT + SLACK); // not its 3 s
    expect(w.lines).toContain(`REASON ${id} TimeoutError ERR_TIMEOUT`);
    // and returning after that changes nothing
    expect(info.result).toBeUndefined();
  });

  it('a function that returns within abortTimeout after the timeout still ends failed (TimeoutError), not succeeded', async () => {
    const { c } = await setup();
    const id = await c.submit('stubborn', { ms: 450 }, { timeout: 300, manualEnd: true });
    const { info, took } = await ended(c, id);
    expect(info).toMatchObject({ outcome: 'failed', error: { name: 'TimeoutError' } });
    expect(took).toBeGreaterThanOrEqual(440);
    expect(took).toBeLessThan(300 + ABORT_TIMEOUT);
  });

  it('a function that blocks its event loop past the timeout is timed out once the loop is free', async () => {
    const { c } = await setup();
    const id = await c.submit('busy', { ms: 800 }, { timeout: 300, manualEnd: true });
    const { info, took } = await ended(c, id);
    expect(info).toMatchObject({ outcome: 'failed', error: { name: 'TimeoutError', code: 'ERR_TIMEOUT' } });
    // ended when the loop let go, not abortTimeout later
    expect(took).toBeGreaterThanOrEqual(790);
    expect(took).toBeLessThan(800 + SLACK); // not abortTimeout later (1400)
  });

  it('a function done in time is unaffected (and one without a timeout too)', async () => {
    const { w, c } = await setup();
    const fast = await c.submit('honest', { ms: 100 }, { timeout: 2000, manualEnd: true });
    const busy = await c.submit('busy', { ms: 200 }, { timeout: 2000, manualEnd: true });
    const none = await c.submit('stubborn', { ms: 100 });
    for (const [id, result] of [
      [fast, 'honest'],
      [busy, 'busy'],
      [none, 'late'],
    ] as const) {
      expect((await ended(c, id)).info).toMatchObject({ outcome: 'succeeded', result });
    }
    expect(w.lines.filter((l) => l.startsWith('REASON'))).toEqual([]);
  });

  it("a reload does not reset the attempt's timer: the new run gets what is left of it", async () => {
    const { w, c } = await setup();
    const id = await c.submit('honest', { ms: 5000 }, { timeout: 700, manualEnd: true });
    await w.waitFor(new RegExp(`^STARTED ${id} 1$`));
    await new Promise((r) => setTimeout(r, 300));
    await c.control(id, 'reload');
    const { info, took } = await ended(c, id);
    expect(info).toMatchObject({ outcome: 'failed', error: { name: 'TimeoutError' } });
    expect(w.lines.filter((l) => l.startsWith(`STARTED ${id}`))).toHaveLength(2);
    expect(took).toBeLessThan(700 + 250);
  });

  it('a stop during the timeout grace wins: the task ends stopped', async () => {
    const { w, c } = await setup();
    const id = await c.submit('stubborn', { ms: 3000 }, { timeout: 200, manualEnd: true });
    await w.waitFor(new RegExp(`^REASON ${id} TimeoutError`));
    await c.control(id, 'stop');
    const { info } = await ended(c, id);
    expect(info).toMatchObject({ outcome: 'stopped', error: { code: 'ERR_STOPPED' } });
  });

  it('a hand-pushed entry with "timeout" is timed out the same way', async () => {
    const { c } = await setup();
    await redis.lpush(keys.newQueue, JSON.stringify({ id: 'by-hand', function: 'honest', data: { ms: 5000 }, timeout: 200, manual_end: true }));
    const { info, took } = await ended(c, 'by-hand');
    expect(info).toMatchObject({ outcome: 'failed', error: { name: 'TimeoutError' } });
    expect(took).toBeLessThan(200 + SLACK); // not abortTimeout later (800), nor its 5 s
  });
});

describe('hand-pushed entries with a bad "timeout"', () => {
  it('are parked bad_option, the message naming the field; nothing of them runs', async () => {
    const { w, c } = await setup();
    const bad = [0, -5, 1.5, 2 ** 31, '300', null, true];
    const raws = bad.map((timeout, i) => JSON.stringify({ id: `bad-timeout-${i}`, function: 'honest', data: { ms: 1 }, timeout }));
    await redis.lpush(keys.newQueue, ...raws);
    // a good one behind them: once it has ended, the bad ones were judged
    await redis.lpush(keys.newQueue, JSON.stringify({ id: 'good-after', function: 'honest', data: { ms: 1 }, timeout: 5000 }));
    expect((await c.wait('good-after', { timeout: 10_000 })).outcome).toBe('succeeded');
    const letters = await c.deadLetters({ limit: 100 });
    for (const raw of raws) {
      const l = letters.find((x) => x.raw === raw);
      expect(l, raw).toMatchObject({ reason: 'bad_option' });
      expect(l!.message, raw).toMatch(/"bad-timeout-\d": timeout must be an integer number of ms from 1 to 2147483647/);
    }
    expect(w.lines.filter((l) => l.startsWith('STARTED bad-timeout'))).toEqual([]);
  });
});
