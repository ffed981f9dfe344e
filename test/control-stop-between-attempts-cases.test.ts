/**
 * A control `stop` around a task's retry backoff, beyond control-stop-between-attempts.test.ts
 * (guards, passing): a keyed task's retry stopped in its backoff is cancelled and its dedupe key
 * freed (the key submitted again is a new task that runs); a grouped one's group goes on; a stop
 * that comes once the retry runs stops that attempt (outcome stopped), and one that comes once it
 * ended changes nothing and says `ended`.
 *
 * And a stop for a task DELAYED by its submit (`delay`: reason 'delay', not a retry's backoff):
 * the stop neither marks nor cancels it (a stop is for a run; `cancel` ends a task that waits).
 * It published the stop all the same, and an idle worker heard the message for a task it did
 * not hold and kept it (src/early-control.ts) for commandTimeout; its wait, sent before the stop,
 * claimed the task when it fell due within that time and handed it the stop: the task ended
 * `stopped` without running. Nothing is published for a task no claim has taken ('waiting').
 */
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const aborted = (signal: AbortSignal) => new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));

async function swarm() {
  const o = server.options();
  const c = new Client({ redis: o });
  const w = new Worker({ port: 0, redis: o, heartbeatInterval: 100 });
  const runs = new Map<string, number>();
  const count = (id: string) => {
    const n = (runs.get(id) ?? 0) + 1;
    runs.set(id, n);
    return n;
  };
  w.addTaskFunction('flaky', async (t) => {
    if (count(t.id) === 1) throw new Error('first attempt fails');
    await sleep(300);
    return 'ran again';
  });
  w.addTaskFunction('plain', (t) => (count(t.id), 'ran'));
  // a second attempt that runs until stopped (or 3 s)
  w.addTaskFunction('slow', async (t) => {
    if (count(t.id) === 1) throw new Error('first attempt fails');
    await Promise.race([aborted(t.signal), sleep(3000)]);
    if (t.signal.aborted) throw new Error('stopped');
    return 'ran to its end';
  });
  cleanup.push(
    () => c.close(),
    () => w.stop(),
  );
  await w.start();
  return { c, runs };
}

describe('a control stop around a retry backoff', () => {
  it('a keyed task stopped in its backoff is cancelled and its key freed', async () => {
    const { c, runs } = await swarm();
    const id = await c.submit('flaky', null, { key: 'k1', attempts: 3, backoff: 1000 });
    await until(async () => (await c.get(id))?.state === 'DELAYED', 'the task in its backoff');
    await c.control(id, 'stop');
    expect(await c.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'cancelled' });
    const again = await c.submit('plain', null, { key: 'k1' });
    expect(again).not.toBe(id);
    expect(await c.wait(again, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded' });
    await sleep(1200);
    expect(runs.get(id)).toBe(1);
  }, 30_000);

  it('a grouped task stopped in its backoff is cancelled; its group goes on', async () => {
    const { c, runs } = await swarm();
    const id = await c.submit('flaky', null, { group: 'g', attempts: 3, backoff: 1000 });
    await until(async () => (await c.get(id))?.state === 'DELAYED', 'the task in its backoff');
    await c.control(id, 'stop');
    expect(await c.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'cancelled' });
    const next = await c.submit('plain', null, { group: 'g' });
    expect(await c.wait(next, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded' });
    await sleep(1200);
    expect(runs.get(id)).toBe(1);
    expect((await c.stats()).functions.flaky?.delayed ?? 0).toBe(0);
  }, 30_000);

  it('its retry claimed before the stop: that attempt is stopped', async () => {
    const { c, runs } = await swarm();
    const id = await c.submit('slow', null, { attempts: 3, backoff: 300 });
    await until(async () => {
      const t = await c.get(id);
      return t?.attempt === 2 && t.state === 'RUNNING';
    }, 'the retry running');
    expect(await c.control(id, 'stop')).toBe('stopping');
    const end = await c.wait(id, { timeout: 10_000 });
    expect({ runs: runs.get(id), outcome: end.outcome, attempt: end.attempt }).toEqual({ runs: 2, outcome: 'stopped', attempt: 2 });
  }, 30_000);

  it('its retry ended before the stop: control resolves `ended`, nothing changed', async () => {
    const { c, runs } = await swarm();
    const id = await c.submit('flaky', null, { attempts: 3, backoff: 100 });
    expect(await c.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded' });
    expect(await c.control(id, 'stop')).toBe('ended');
    expect(await c.get(id)).toMatchObject({ outcome: 'succeeded' });
    expect(runs.get(id)).toBe(2);
  }, 30_000);
});

describe('a control stop of a task DELAYED by its submit', () => {
  it('is not cancelled, nor kept for its claim: it runs when due', async () => {
    const { c, runs } = await swarm();
    const id = await c.submit('plain', null, { delay: 600 });
    expect((await c.get(id))?.state).toBe('DELAYED');
    expect(await c.control(id, 'stop')).toBe('waiting');
    expect((await c.get(id))?.state).toBe('DELAYED');
    expect(await c.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', result: 'ran' });
    expect(runs.get(id)).toBe(1);
  }, 30_000);
});
