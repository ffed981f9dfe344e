/**
 * A task told to stop (a control `stop`) after a graceful stop past its grace has halted it,
 * while its function still winds down, ends `stopped` and runs nowhere else. The halted task
 * ignored the stop (`halting` took no STOP) and was handed back once its function returned: an
 * idle worker claimed it and ran it again, though it had been told to stop (as a stop heard a
 * moment before the grace's end no longer does: test/stop-spares-task-told-to-stop.test.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { startRedis, until } from './helpers/redis-server.js';
import { collectingLogger } from './helpers/collecting-logger.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

describe('a worker stopped past its grace, its halted task told to stop while it winds down', () => {
  it('the task ends stopped and runs nowhere else', async () => {
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
    const stopping = a.w.stop();
    await new Promise((r) => setTimeout(r, 400)); // past the grace (200 ms): the task is halted, winding down
    await c.control(id, 'stop');
    await stopping;
    // a chance for b to claim it, were it queued
    await new Promise((r) => setTimeout(r, 500));
    expect(starts, a.lines.join('\n')).toEqual(['a']);
    const t = await c.wait(id, { timeout: 10_000 });
    expect(t, a.lines.join('\n')).toMatchObject({ state: 'END', outcome: 'stopped' });
  }, 30_000);
});
