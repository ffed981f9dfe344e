/**
 * A task handed back at a graceful stop (stopGrace over) has its AbortSignal fired; a function
 * that reports its progress as it winds down (`await task.update(...)` in its abort path) is
 * answered at once, as outside `connected` and `draining` (docs/semantics.md): its lease is gone
 * by the worker's own doing. Renewing it there rejected update() with LeaseLostError and logged
 * "lease lost ... abandoning our copy" on every ordinary graceful stop.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { startRedis, until } from './helpers/redis-server.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
const lines: string[] = [];
const quiet = { debug() {}, info: (m: string) => lines.push(`info ${m}`), warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`) };

describe('a task handed back at a graceful stop', () => {
  it('its function winding down may call update(): answered, no lease reported lost', async () => {
    lines.length = 0;
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const o = server.options();
    const c = new Client({ redis: o });
    const w = new Worker({ port: 0, redis: o, stopGrace: 200, abortTimeout: 3000, logger: quiet });
    let runs = 0;
    let updateAfterAbort: string | undefined;
    w.addTaskFunction('long', async (task) => {
      runs++;
      await new Promise<void>((resolve) => task.signal.addEventListener('abort', () => resolve()));
      // winding down: a last progress report
      try {
        await task.update({ wound: 'down' });
        updateAfterAbort = 'resolved';
      } catch (e) {
        updateAfterAbort = `rejected: ${(e as Error).name}: ${(e as Error).message}`;
      }
    });
    cleanup.push(() => c.close(), () => w.stop());
    await w.start();
    const id = await c.submit('long');
    await until(() => runs === 1, 'running');
    await w.stop();
    expect((await c.get(id))?.state).toBe('QUEUED'); // handed back
    expect(updateAfterAbort, lines.join('\n')).toBe('resolved');
    expect(lines.filter((l) => /lease lost/.test(l))).toEqual([]);
  }, 30_000);
});
