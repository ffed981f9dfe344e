/**
 * A control `stop` for a task DELAYED by its submit (`delay`: reason 'delay', not a retry's
 * backoff): stop.lua neither marks nor cancels it (a stop is for a run; `cancel` ends a task
 * that waits). It published the stop all the same, and an idle worker heard the message for a
 * task it did not hold and kept it (src/early-control.ts) for commandTimeout; its wait, sent
 * before the stop, claimed the task when it fell due within that time and handed it the stop:
 * the task ended `stopped` without running, though neither running nor cancelled when told.
 * Nothing is published for a task that is not running now (stop.lua answers 'idle').
 */
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { type RedisServer } from './helpers/redis-server.js';
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

describe('a control stop of a task DELAYED by its submit', () => {
  it('a task DELAYED by its submit is not cancelled: it runs when due', async () => {
    const { c, runs } = await swarm();
    const id = await c.submit('plain', null, { delay: 600 });
    expect((await c.get(id))?.state).toBe('DELAYED');
    await c.control(id, 'stop');
    expect((await c.get(id))?.state).toBe('DELAYED');
    expect(await c.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', result: 'ran' });
    expect(runs.get(id)).toBe(1);
  }, 30_000);

});
