/**
 * A task function's result that JSON.stringify turns into nothing at all (its toJSON returns
 * undefined, or a function) fails the attempt with a NonRetryableError, as a function or a
 * Symbol returned directly does: it ended succeeded with result null, the value lost.
 */
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s: RedisServer) => {
  server = s;
});

describe('a result whose toJSON gives nothing JSON can hold', () => {
  it('fails the attempt, not succeeded with null', async () => {
    const o = server.options();
    const w = new Worker({ port: 0, redis: o });
    const c = new Client({ redis: o });
    cleanup.push(() => c.close(), () => w.stop());
    w.addTaskFunction('undef', async () => ({ rows: [1, 2, 3], toJSON: () => undefined }));
    w.addTaskFunction('fnjson', async () => ({ toJSON: () => () => 1 }));
    await w.start();
    for (const fn of ['undef', 'fnjson']) {
      const t = await c.wait(await c.submit(fn, null), { timeout: 10_000 });
      expect({ fn, outcome: t.outcome, error: t.error?.name }).toEqual({ fn, outcome: 'failed', error: 'NonRetryableError' });
    }
  });
});
