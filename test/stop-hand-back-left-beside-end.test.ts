/**
 * A stop with Redis down as stopGrace ends halts its tasks, and Redis is back, empty, while the
 * halted functions still run (slow to heed their abort). An END of a task whose function
 * returned while Redis was down is refused (its hash was lost too) and asks a renew, which
 * re-asserts every task the worker still holds, the halted ones among them; the hand-back, once
 * their functions have returned, re-asserts from the records it kept whatever is still missing.
 * Whichever re-asserts a halted task first, it is handed back: none is left RUNNING in Redis under
 * the lease of the worker that stopped (nobody renews it; a monitor would requeue it only after
 * taskTimeout, an attempt charged, and without one it runs nowhere), and the finished task ends.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
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

describe('a stop halting its tasks with Redis down, Redis back empty before they return, beside an END refused', () => {
  it('hands back every halted task; none stays RUNNING under the stopped worker\'s lease', async () => {
    lines.length = 0;
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const o = server.options();
    const w = new Worker({ port: 0, redis: o, heartbeatInterval: 2500, stopGrace: 500, abortTimeout: 5000, concurrency: 50, logger: quiet });
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const ids: string[] = [];
    let quick = 0;
    let slow = 0;
    let aborted = 0;
    w.addTaskFunction('quick', async () => {
      quick++;
      await gate;
      return 'finished';
    });
    // heeds its abort late: still running (halted) when Redis is back
    w.addTaskFunction('slow', ({ signal }) => new Promise<void>((resolve) => ((slow += 1), signal.addEventListener('abort', () => ((aborted += 1), setTimeout(resolve, 3500))))));
    cleanup.push(() => w.stop());
    // The two renews meet: the hand-back's re-assert from memory of the first task it found
    // missing (if any is) reaches Redis once the refused END's renew has re-asserted what it found missing.
    const redis = (w as unknown as { redis: Redis }).redis;
    const send = redis.sendCommand.bind(redis);
    let held = false;
    redis.sendCommand = ((command, ...rest) => {
      if (!held && command.name === 'fcall' && String(command.args[0]).endsWith('reassert') && /handBackRemembered/.test(new Error().stack ?? '')) {
        held = true;
        void until(() => lines.some((l) => /re-asserted the task from memory/.test(l) && ids.some((id) => l.includes(id))), "the END's renew re-asserted", 3000)
          .catch(() => undefined)
          .then(() => send(command, ...rest));
        return command.promise;
      }
      return send(command, ...rest);
    }) as Redis['sendCommand'];
    await w.start();
    const c = new Client({ redis: o });
    const done = await c.submit('quick');
    for (let i = 0; i < 20; i++) ids.push(await c.submit('slow'));
    await until(() => quick === 1 && slow === 20, 'running');
    await until(async () => (await Promise.all([done, ...ids].map((id) => c.get(id)))).every((t) => t?.state === 'RUNNING'), 'RUNNING in Redis');
    await c.close();
    await server.kill(); // no persistence
    open(); // `quick` returns: its END waits for Redis
    const stopped = w.stop();
    await until(() => aborted === 20, 'the halt', 10_000);
    await server.start(); // back, empty, while the halted functions still run
    await stopped;
    const c2 = new Client({ redis: o });
    cleanup.push(() => c2.close());
    const tasks = await Promise.all(ids.map(async (id) => ({ id, state: (await c2.get(id))?.state ?? 'absent' })));
    const notBack = tasks.filter((t) => t.state !== 'QUEUED');
    expect(notBack, `not handed back: ${notBack.map((t) => `${t.id} ${t.state}`).join(', ')}; the worker said:\n${lines.join('\n')}`).toEqual([]);
    expect(await c2.get(done)).toMatchObject({ state: 'END', outcome: 'succeeded' });
  }, 60_000);
});
