/**
 * A control `stop` for a task DELAYED by its submit (`delay`: reason 'delay', not a retry's
 * backoff): stop.lua neither marks nor cancels it, it answers 'sent' and publishes the stop
 * (docs/semantics.md: "a stop for a task not running otherwise marks nothing (a queued task still
 * runs: `cancel` ends one that waits)"). An idle worker hears the message for a task it does not
 * hold and keeps it (src/early-control.ts) for commandTimeout; its wait, sent before the stop,
 * claims the task when it falls due within that time and hands it the stop: the task ends
 * `stopped` without running, though neither running nor cancelled when told. (Pre-existing:
 * stop.lua published for a DELAYED task before the 'retrying' answer too; early-control.ts says a
 * message for the task while it was queued is not carried over to a later claim.)
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
    expect(await c.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', result: 'ran' }); // observed: stopped, no result, never run
    expect(runs.get(id)).toBe(1);
  }, 30_000);

});
