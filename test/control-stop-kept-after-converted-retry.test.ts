/**
 * A control `stop` that reaches a task whose function has failed, its END (a retry) not written
 * yet: stop.lua marks the task, so finish.lua writes that END as the task's end, `stopped`, not
 * the retry the worker sent. The worker heard the stop after the function settled and kept it
 * for the claim of the retry its END might carry (src/early-control.ts); it forgets what it kept
 * only when an END it sent as an end (not a retry) is written (task-actions `endWritten`). The
 * retry never came, and what was kept reached the next claim of the id: the same id submitted
 * again within the worker's command timeout ended `stopped` though no one stopped it. finish.lua
 * now answers such an END 2, not 1, and the worker forgets what it kept for the id then.
 *
 * Before stop.lua, the retry was written and its claim took the stop (the second attempt
 * stopped), so the id submitted again ran to its end. A `cancel` in the same place (it marks
 * the task and publishes the same stop) did this before: the second case.
 *
 * The END is held back by a damaged key (Q:delayed written as a string: a retry's END is refused
 * until it is mended, the worker trying it again), so that the stop lands between the function's
 * failure and the END.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { buildKeys } from '../src/keys.js';
import { resolveRedisConfig } from '../src/config.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const aborted = (signal: AbortSignal) => new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));

describe('a stop heard after a failed attempt settled, its retry END then written as the end', () => {
  it.each([
    { by: 'Client.control stop', send: (c: Client, id: string) => c.control(id, 'stop') },
    { by: 'Client.cancel (the same mark, before stop.lua)', send: (c: Client, id: string) => c.cancel(id) },
  ])('sent by $by: does not stop the same id submitted again', async ({ send }) => {
    const o = server.options();
    const keys = buildKeys(resolveRedisConfig(o));
    const w = new Worker({ port: 0, redis: o, heartbeatInterval: 2000 });
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let runs = 0;
    w.addTaskFunction('flaky', async (t) => {
      runs++;
      if (runs === 1) {
        await gate;
        throw new Error('first attempt fails');
      }
      // a second attempt (before stop.lua, the retry): it takes the stop kept for it
      await aborted(t.signal);
      throw new Error('stopped');
    });
    w.addTaskFunction('fresh', (t) => Promise.race([aborted(t.signal).then(() => 'stopped'), sleep(500).then(() => 'ran')]));
    const c = new Client({ redis: o });
    cleanup.push(
      async () => redis.del(keys.delayed),
      () => c.close(),
      () => w.stop(),
    );
    await w.start();

    const x = await c.submit('flaky', null, { id: 'x', attempts: 3, backoff: 0 });
    await until(async () => (await c.get(x))?.state === 'RUNNING', 'the task running');
    await redis.set(keys.delayed, 'damaged');
    open();
    // the function failed; its retry END is refused until the key is mended
    await sleep(300);
    expect((await c.get(x))?.state).toBe('RUNNING');
    await send(c, x);
    await sleep(100);
    await redis.del(keys.delayed);
    expect(await c.wait(x, { timeout: 5000 })).toMatchObject({ outcome: 'stopped' });

    // the task cleaned up (as endRetention does), the id submitted again: a new task
    await redis.del(keys.task(x));
    await c.submit('fresh', null, { id: x });
    const end = await c.wait(x, { timeout: 5000 });
    expect({ outcome: end.outcome, result: end.result }).toEqual({ outcome: 'succeeded', result: 'ran' });
  }, 30_000);
});
