/**
 * A `stop` for a task running here, which ends it, then the same id submitted again at once (a
 * restart of the task): the worker's idle wait, sent before the stop, claims the new submission.
 * The stop was the old claim's: the new claim, a task submitted after it, must not get it
 * (src/early-control.ts keeps a message for a claim on its way only when no claim of the id
 * runs here, or its function has returned and its END may carry a retry's claim).
 */
import { Redis } from 'ioredis';
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

describe('a task stopped, then its id submitted again, claimed by an idle wait sent before the stop', () => {
  it('runs to its end: the stop was the old claim', async () => {
    const o = server.options();
    const keys = buildKeys(resolveRedisConfig(o));
    const w = new Worker({ port: 0, redis: o, heartbeatInterval: 2000, fetchTaskInterval: 20_000, concurrency: 2 });
    w.addTaskFunction('held', async (t) => void (await aborted(t.signal)));
    w.addTaskFunction('fresh', (t) => Promise.race([aborted(t.signal).then(() => 'stopped'), sleep(500).then(() => 'ran')]));
    cleanup.push(() => w.stop());
    await w.start();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());

    const x = await c.submit('held', null, { id: 'x' });
    await until(async () => (await c.get(x))?.state === 'RUNNING', 'the task running');
    const isBlocked = (line: string) => / flags=\w*b/.test(line) && / cmd=blmove/.test(line);
    await until(async () => String(await redis.call('CLIENT', 'LIST', 'TYPE', 'normal')).split('\n').some(isBlocked), 'the worker blocked on the queue');

    await c.control(x, 'stop');
    expect(await c.wait(x, { timeout: 5000 })).toMatchObject({ outcome: 'stopped' });
    // its hash cleaned up (as endRetention does), the id is free
    await redis.del(keys.task(x));
    await c.submit('fresh', null, { id: x });

    const end = await c.wait(x, { timeout: 5000 });
    expect({ outcome: end.outcome, result: end.result }).toEqual({ outcome: 'succeeded', result: 'ran' });
  }, 30_000);
});
