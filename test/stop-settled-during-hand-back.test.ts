/**
 * A task whose function returns within stopGrace while Redis is silent is finished work: it is
 * never handed back to the queue, whatever becomes of Redis before the stop is over. Here Redis
 * is frozen before the stop (the function returns in the grace, its END waits), stays silent
 * past the grace (the halt finds the task settled: nothing to halt, nothing to hand back), and
 * is back while the stop's abortTimeout runs, empty or with its data. The task ends once, with
 * its result; it is not queued to run again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { startRedis, until } from './helpers/redis-server.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
const lines: string[] = [];
const t0 = Date.now();
const log = (k: string) => (m: string) => lines.push(`${Date.now() - t0} ${k} ${m}`);
const quiet = { debug() {}, info: log('info'), warn: log('warn'), error: log('error') };

describe('a graceful stop: a task that finished in the grace, its END waiting for a silent Redis', () => {
  it.each([
    ['empty', false],
    ['with its data (AOF)', true],
  ])('is not handed back when Redis is back, %s, before the stop is over', async (_, appendonly) => {
    lines.length = 0;
    const server = await startRedis({ appendonly });
    cleanup.push(() => server.stop());
    const o = server.options();
    // a command's timeout: max(1000, 2 * heartbeatInterval) = 2000 ms
    const w = new Worker({ port: 0, redis: o, heartbeatInterval: 1000, stopGrace: 500, abortTimeout: 4000, logger: quiet });
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let runs = 0;
    w.addTaskFunction('work', async () => {
      runs++;
      await gate; // returns its result, abort or not
      return 'finished';
    });
    cleanup.push(() => w.stop());
    await w.start();
    const c = new Client({ redis: o });
    const id = await c.submit('work');
    await until(() => runs === 1, 'running');
    await until(async () => (await c.get(id))?.state === 'RUNNING', 'RUNNING in Redis');
    await c.close();

    server.freeze();
    const stopped = w.stop();
    await new Promise((r) => setTimeout(r, 200));
    open(); // the function returns within stopGrace (500 ms): its END waits for the frozen Redis
    // stopGrace ends at 500 ms; the stop waits for the END until abortTimeout from then (~4500 ms)
    await new Promise((r) => setTimeout(r, 2000));
    await server.kill();
    await new Promise((r) => setTimeout(r, 1000));
    await server.start(); // back, within the stop's abortTimeout
    await stopped;

    const r = server.client();
    const c2 = new Client({ redis: o });
    cleanup.push(() => c2.close(), () => r.disconnect());
    const t = await c2.get(id);
    const said = `the worker said:\n${lines.join('\n')}`;
    expect(t?.state, `task ${id} after the stop: ${JSON.stringify(t)}; ${said}`).not.toBe('QUEUED');
    expect(t, said).toMatchObject({ state: 'END', outcome: 'succeeded', result: 'finished' });
    expect(runs).toBe(1);
  }, 40_000);
});
