/**
 * A `stop` for a task running here, sent again once its function has returned while its END is
 * on its way (a user who clicks twice): the worker keeps that second stop for a claim of the id
 * on its way, since the END of a failed attempt may carry the claim of its retry
 * (src/early-control.ts). The END was the task's end, and carried none; the id submitted again
 * at once (a restart of the task) was claimed by the worker's idle wait, sent before the second
 * stop, and that claim got the old claim's stop: the new task ended `stopped` without anyone
 * stopping it. What was kept for the id is forgotten once such an END is written. The END is
 * answer is held back here by a proxy that holds what Redis sends on the worker's command
 * connection.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { buildKeys } from '../src/keys.js';
import { resolveRedisConfig } from '../src/config.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { startProxy } from './helpers/tcp-proxy.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const aborted = (signal: AbortSignal) => new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));

describe('a stop sent again while the stopped task ends, then its id submitted again and claimed by an idle wait sent before', () => {
  it('the new task runs to its end: both stops were the old claim', async () => {
    const o = server.options();
    const keys = buildKeys(resolveRedisConfig(o));
    const proxy = await startProxy(server.host, server.port);
    const w = new Worker({ port: 0, redis: { ...o, host: '127.0.0.1', port: proxy.port }, heartbeatInterval: 2000, fetchTaskInterval: 20_000, concurrency: 2 });
    // returns at its stop, and the answer to its END waits in the proxy
    w.addTaskFunction('held', async (t) => {
      await aborted(t.signal);
      proxy.hold((hello) => hello.includes(':command'));
    });
    w.addTaskFunction('fresh', (t) => Promise.race([aborted(t.signal).then(() => 'stopped'), sleep(500).then(() => 'ran')]));
    const c = new Client({ redis: o });
    cleanup.push(
      () => proxy.close(),
      async () => {
        proxy.heal();
        await w.stop();
      },
      () => c.close(),
    );
    await w.start();

    const x = await c.submit('held', null, { id: 'x' });
    await until(async () => (await c.get(x))?.state === 'RUNNING', 'the task running');
    // the second slot's idle wait, whose claim will take the id submitted again
    const isBlocked = (line: string) => / flags=\w*b/.test(line) && / cmd=blmove/.test(line);
    await until(async () => String(await redis.call('CLIENT', 'LIST', 'TYPE', 'normal')).split('\n').some(isBlocked), 'the worker blocked on the queue');

    await c.control(x, 'stop');
    await sleep(200);
    // its function has returned and its END is written, the answer not back at the worker yet
    expect((await c.get(x))?.outcome).toBe('stopped');
    await c.control(x, 'stop');
    await sleep(100);
    proxy.heal();
    expect(await c.wait(x, { timeout: 5000 })).toMatchObject({ outcome: 'stopped' });
    // its hash cleaned up (as endRetention does), the id is free
    await redis.del(keys.task(x));
    await c.submit('fresh', null, { id: x });

    const end = await c.wait(x, { timeout: 5000 });
    expect({ outcome: end.outcome, result: end.result }).toEqual({ outcome: 'succeeded', result: 'ran' });
  }, 30_000);
});
