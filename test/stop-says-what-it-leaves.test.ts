/**
 * What a stop leaves behind it is said by its last words, in what they mean for the task:
 * - a function that ignores its abort past abortTimeout is given up, its task handed back while
 *   it still runs: the warning names it apart from those whose functions had returned (it said
 *   "once their functions had returned" of it too);
 * - an END that Redis did not take by the time the worker left (Redis down through the stop) is
 *   given up with the worker, the task RUNNING in Redis for a monitor to run again: an error
 *   names it (the stop's last word on it was the END's "retrying").
 */
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { startRedis, until } from './helpers/redis-server.js';
import { collectingLogger } from './helpers/collecting-logger.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a stop says what it leaves', () => {
  it('names the tasks handed back with their functions still running apart from those whose functions had returned', async () => {
    const server = await startRedis();
    const o = server.options();
    const { lines, logger } = collectingLogger();
    const w = new Worker({ port: 0, redis: o, logger, stopGrace: 200, abortTimeout: 800 });
    let stubbornDone!: () => void;
    const stubbornEnded = new Promise<void>((r) => (stubbornDone = r));
    const started = new Set<string>();
    // ignores its abort, for longer than abortTimeout
    w.addTaskFunction('stubborn', async ({ id }) => {
      started.add(id);
      await sleep(2000);
      stubbornDone();
    });
    // heeds its abort
    w.addTaskFunction('heeds', ({ id, signal }) => {
      started.add(id);
      return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    });
    const c = new Client({ redis: o });
    try {
      await w.start();
      const s = await c.submit('stubborn');
      const h = await c.submit('heeds');
      // (both functions called: a task RUNNING in Redis may still be on its claim's way, and a
      // stop hands such a claim's tasks back unrun, apart, named by no "stop grace over" line)
      await until(() => started.has(s) && started.has(h), 'both running');
      await w.stop();
      expect([(await c.get(s))?.state, (await c.get(h))?.state]).toEqual(['QUEUED', 'QUEUED']);
      const said = lines.filter((l) => /stop grace over/.test(l));
      expect(said.filter((l) => /functions still running/.test(l) && l.includes(s) && !l.includes(h)), said.join('\n')).toHaveLength(1);
      expect(said.filter((l) => /functions had returned/.test(l) && l.includes(h) && !l.includes(s)), said.join('\n')).toHaveLength(1);
      await stubbornEnded;
    } finally {
      await c.close();
      await server.stop();
    }
  }, 30_000);

  it('names the tasks whose END it gave up, Redis down through the stop: Redis holds them RUNNING', async () => {
    const server = await startRedis({ appendonly: true });
    const o = server.options();
    const { lines, logger } = collectingLogger();
    const w = new Worker({ port: 0, redis: o, logger, stopGrace: 200, abortTimeout: 800 });
    let release!: () => void;
    w.addTaskFunction('hold', () => new Promise<string>((r) => (release = () => r('done'))));
    // (a worker whose END fails is not interrupted by it: the test's own client)
    let c = new Client({ redis: o });
    try {
      await w.start();
      const id = await c.submit('hold');
      // (its function called, `release` set: RUNNING in Redis, its claim's reply may still be on its way)
      await until(() => release !== undefined, 'the task running');
      await c.close();
      await server.kill();
      release();
      await until(() => lines.some((l) => l.includes(id) && /could not write its end/.test(l)), 'the END failing', 10_000);
      await w.stop();
      const gaveUp = lines.filter((l) => /without writing the END/.test(l));
      expect(gaveUp, lines.join('\n')).toHaveLength(1);
      expect(gaveUp[0]).toContain(id);
      // what the error says: Redis, back with its data, holds it RUNNING, the worker gone
      await server.start();
      c = new Client({ redis: o });
      expect((await c.get(id))?.state).toBe('RUNNING');
    } finally {
      await c.close();
      await server.stop();
    }
  }, 40_000);
});
