/**
 * A control `stop` that finds its task queued again after a claim, between two attempts, cancels
 * it: its next attempt never runs. A caller sends a stop on seeing the task RUNNING; its worker
 * died (the monitor requeued it) or stopped (it handed the task back) just before, and the stop
 * found it QUEUED. stop.lua answered `idle` then, did nothing, and the task ran again on the next
 * worker, though told to stop; the caller was told nothing. `Client.control` now resolves with
 * what it did, and the CLI prints it.
 * A stop of a task that no claim has taken yet still does nothing (`cancel` removes a task that
 * waits), and says so.
 */
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { runMain } from './helpers/cli.js';
import { expectCancelledForGood, handedBack, nextWorker, requeuedTask } from './helpers/queued-again.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

describe('a control stop of a task queued again after a claim', () => {
  it('requeued by a monitor (its worker died): cancelled, and no other worker runs it', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await requeuedTask(o, c, cleanup);
    await expectCancelledForGood(o, c, cleanup, [id]);
  }, 30_000);

  it('handed back by its worker as it stopped (the attempt given back: attempt 0): cancelled, and no other worker runs it', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await handedBack(o, c, cleanup, 'sleep');
    expect(await c.get(id)).toMatchObject({ state: 'QUEUED', attempt: 0 });
    await expectCancelledForGood(o, c, cleanup, [id]);
  }, 30_000);

  it('through the CLI: says it was cancelled between attempts', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await requeuedTask(o, c, cleanup);
    const r = await runMain(['control', id, 'stop', '--key-prefix', o.keyPrefix!], { REDIS_URL: server.url });
    expect(r).toEqual({ code: 0, stdout: `task ${id} was between attempts (queued to run again): cancelled, its next attempt will not run\n`, stderr: '' });
    expect(await c.get(id)).toMatchObject({ state: 'END', outcome: 'cancelled' });
  }, 30_000);
});

describe('what a control resolves with', () => {
  it('a stop of a task no claim has taken yet does nothing and says `waiting`; it still runs', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('sleep');
    expect(await c.control(id, 'stop')).toBe('waiting');
    const seen = await nextWorker(o, cleanup);
    await until(async () => seen.runs === 1, 'the task running');
    expect(await c.control(id, 'stop')).toBe('stopping');
    expect(await c.wait(id, { timeout: 5000 })).toMatchObject({ outcome: 'stopped' });
    expect(await c.control(id, 'stop')).toBe('ended');
    expect(await c.control(id, 'reload')).toBe('sent');
  }, 30_000);
});
