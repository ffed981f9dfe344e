/**
 * A worker stopping gracefully (stop(), SIGTERM) while Redis restarts without persistence loses
 * nothing (docs/failure-model.md: each worker re-asserts its running tasks from memory):
 * - a task still running when stopGrace ends is re-asserted, then handed back: the hand-back
 *   found no hash and handed nothing back, and the task, halted, was nowhere;
 * - a task whose function returned while Redis was down ends once Redis is back empty, during
 *   the stop's `releasing`: its refused END was given up as a lease lost;
 * - a task still running when stopGrace ends with Redis down is handed back once Redis is back,
 *   empty, before the stop is over: the hand-back failed, the task was halted, and nothing
 *   tried again (bounded: the stop waits abortTimeout at most for Redis).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
const lines: string[] = [];
const quiet = { debug() {}, info: (m: string) => lines.push(`info ${m}`), warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`) };

async function redisServer(): Promise<RedisServer> {
  const s = await startRedis();
  cleanup.push(() => s.stop());
  return s;
}

describe('a worker stopping gracefully while Redis restarts without persistence', () => {
  it('nothing lost: a task still running when stopGrace ends is re-asserted or handed back, not dropped', async () => {
    lines.length = 0;
    const server = await redisServer();
    const o = server.options();
    const c = new Client({ redis: o });
    // heartbeatInterval 2.5 s (under taskTimeout/4 of the default 30 s): the restart lands
    // between two heartbeats, inside the stop's grace
    const w = new Worker({ port: 0, redis: o, heartbeatInterval: 2500, stopGrace: 1500, abortTimeout: 500, logger: quiet });
    let runs = 0;
    w.addTaskFunction('long', async ({ signal }) => {
      runs++;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 60_000);
        signal.addEventListener('abort', () => (clearTimeout(t), resolve()));
      });
      return 'done';
    });
    cleanup.push(() => c.close(), () => w.stop());
    await w.start();
    const id = await c.submit('long');
    await until(() => runs === 1, 'running');
    await until(async () => (await c.get(id))?.state === 'RUNNING', 'RUNNING in Redis');
    // a heartbeat just went: the next is 2.5 s away
    await new Promise((r) => setTimeout(r, 300));
    const stopped = w.stop();
    await server.restart(); // SIGKILL + start: an empty Redis, the stop's grace still running
    await stopped;
    // the task must be somewhere: queued again (handed back), or RUNNING/ENDed under a re-asserted hash
    const t = await c.get(id);
    expect(t, `task ${id} after the stop: gone from Redis; the worker said:\n${lines.join('\n')}`).not.toBeNull();
    expect(['QUEUED', 'RUNNING', 'END']).toContain(t!.state);
  }, 30_000);

  it('nothing lost: a task that finished while Redis was down ends once Redis is back empty during the stop (releasing)', async () => {
    lines.length = 0;
    const server = await redisServer();
    const o = server.options();
    const c = new Client({ redis: o });
    const w = new Worker({ port: 0, redis: o, stopGrace: 300, abortTimeout: 6000, logger: quiet });
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let runs = 0;
    w.addTaskFunction('quick', async () => {
      runs++;
      await gate;
      return 'finished';
    });
    cleanup.push(() => c.close(), () => w.stop());
    await w.start();
    const id = await c.submit('quick');
    await until(() => runs === 1, 'running');
    await server.kill(); // Redis gone (no persistence): the END cannot be written now
    open(); // the function returns; its END is tried again and again
    await new Promise((r) => setTimeout(r, 300));
    const stopped = w.stop();
    // past stopGrace: nothing to hand back (the task settled), its END waits in `releasing`
    await new Promise((r) => setTimeout(r, 1500));
    await server.start(); // back, empty: the END is refused until the task is re-asserted
    await stopped;
    const t = await c.get(id);
    expect(t, `task ${id} after the stop: gone from Redis; the worker said:\n${lines.join('\n')}`).not.toBeNull();
    expect(t).toMatchObject({ state: 'END', outcome: 'succeeded', result: 'finished' });
    expect(runs).toBe(1);
  }, 30_000);
  it('nothing lost: a task still running when stopGrace ends with Redis down is re-asserted and handed back once Redis is back empty', async () => {
    lines.length = 0;
    const server = await redisServer();
    const o = server.options();
    const c = new Client({ redis: o });
    const w = new Worker({ port: 0, redis: o, heartbeatInterval: 2500, stopGrace: 1000, abortTimeout: 5000, logger: quiet });
    let runs = 0;
    w.addTaskFunction('long', async ({ signal }) => {
      runs++;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 60_000);
        signal.addEventListener('abort', () => (clearTimeout(t), resolve()));
      });
      return 'done';
    });
    cleanup.push(() => c.close(), () => w.stop());
    await w.start();
    const id = await c.submit('long');
    await until(() => runs === 1, 'running');
    await until(async () => (await c.get(id))?.state === 'RUNNING', 'RUNNING in Redis');
    const stopped = w.stop();
    await new Promise((r) => setTimeout(r, 300));
    await server.kill(); // gone within the grace, and still gone when it ends: the hand-back fails
    await new Promise((r) => setTimeout(r, 2000));
    await server.start(); // back, empty, before the stop is over
    await stopped;
    const t = await c.get(id);
    expect(t, `task ${id} after the stop: gone from Redis; the worker said:\n${lines.join('\n')}`).not.toBeNull();
    expect(t!.state).toBe('QUEUED');
    expect(runs).toBe(1);
  }, 30_000);
  it('a stop whose Redis never comes back ends, and names the tasks it could not hand back', async () => {
    lines.length = 0;
    const server = await redisServer();
    const o = server.options();
    const c = new Client({ redis: o });
    const w = new Worker({ port: 0, redis: o, heartbeatInterval: 2500, stopGrace: 500, abortTimeout: 1500, logger: quiet });
    let runs = 0;
    w.addTaskFunction('long', ({ signal }) => new Promise<void>((resolve) => ((runs += 1), signal.addEventListener('abort', () => resolve()))));
    cleanup.push(() => c.close(), () => w.stop());
    await w.start();
    const id = await c.submit('long');
    // (its function called: RUNNING in Redis, its claim's reply may still be on its way, and a stop
    // hands such a claim back apart, saying so at WARN, not in the halted tasks' error)
    await until(() => runs === 1, 'running');
    await until(async () => (await c.get(id))?.state === 'RUNNING', 'RUNNING in Redis');
    await c.close();
    await server.kill();
    const began = Date.now();
    await w.stop();
    expect(lines.some((l) => l.startsWith('error could not hand back 1 task(s) within abortTimeout (1500 ms)') && l.endsWith(`"${id}"`)), lines.join('\n')).toBe(true);
    expect(w.state).toBe('stopped');
    // the grace, the failed hand-back, the halt, the deregistration's bounded waits: seconds, not the test's timeout
    expect(Date.now() - began).toBeLessThan(20_000);
  }, 30_000);
});
