/**
 * A task told to stop (a control `stop`) ends `stopped`, even when its worker is stopped too and
 * its function is still winding down as the worker's stopGrace ends, and runs nowhere else.
 * - Told before the grace's end: the stop past its grace halted every task still running, this
 *   one too, and handed it back.
 * - Told after it, the task already halted: `halting` took no STOP, and the task was handed back
 *   once its function returned.
 * Either way an idle worker claimed it and ran it again, though it had been told to stop.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { startRedis, until } from './helpers/redis-server.js';
import { collectingLogger } from './helpers/collecting-logger.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

describe('a worker stopped while a task it runs winds down from a control stop', () => {
  it.each([
    { when: 'before the grace ends', toldAfterStop: false },
    { when: 'after the grace ended, the task halted', toldAfterStop: true },
  ])('told $when: the task ends stopped and runs nowhere else', async ({ toldAfterStop }) => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const redis = server.options();
    const starts: string[] = [];
    const make = (name: string) => {
      const { lines, logger } = collectingLogger();
      const w = new Worker({ redis, port: 0, stopGrace: 200, abortTimeout: 3000, heartbeatInterval: 500, logger });
      // heeds its abort slowly: returns a second after it
      w.addTaskFunction('wind', ({ signal }) => {
        starts.push(name);
        return new Promise((resolve) => signal.addEventListener('abort', () => setTimeout(() => resolve('wound down'), 1000)));
      });
      cleanup.push(() => w.stop());
      return { w, lines };
    };
    const a = make('a');
    await a.w.start();
    const c = new Client({ redis });
    cleanup.push(() => c.close());
    const id = await c.submit('wind');
    await until(() => starts.length === 1, 'running on a');
    await until(async () => (await c.get(id))?.state === 'RUNNING', 'RUNNING in Redis');
    const b = make('b');
    await b.w.start();
    let stopping: Promise<void>;
    if (toldAfterStop) {
      stopping = a.w.stop();
      await new Promise((r) => setTimeout(r, 400)); // past the grace (200 ms): the task is halted, winding down
      await c.control(id, 'stop');
    } else {
      await c.control(id, 'stop');
      await new Promise((r) => setTimeout(r, 100)); // the stop reaches a: its function winds down
      stopping = a.w.stop(); // past its grace (200 ms) the function still runs
    }
    await stopping;
    // a chance for b to claim it, were it queued
    await new Promise((r) => setTimeout(r, 500));
    expect(starts, a.lines.join('\n')).toEqual(['a']);
    const t = await c.wait(id, { timeout: 10_000 });
    expect(t, a.lines.join('\n')).toMatchObject({ state: 'END', outcome: 'stopped' });
  }, 30_000);
});
