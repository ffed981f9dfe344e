/**
 * A worker still holding an old claim of a task (its lease lost, not yet heard by a heartbeat)
 * can claim the task's id again, submitted anew. Between the new claim running in Redis and its
 * reply reaching the worker, a control message for the task reached the old claim alone: the
 * worker held the id, so the message was not kept for a claim on its way (src/early-control.ts),
 * and the new claim, the one a client sending it as soon as it saw RUNNING meant, never heard it.
 *
 * The window is made wide on purpose: a TCP proxy holds the idle worker's blocking connection,
 * whose wait claims the new submission, while the control subscription flows; the old claim's
 * hash is deleted by hand right after a heartbeat, so that none notices its lease lost meanwhile.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { buildKeys } from '../src/keys.js';
import { resolveRedisConfig } from '../src/config.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { proxyToRedis } from './helpers/tcp-proxy.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a control message heard while an old claim of its task is held and a new claim is on its way', () => {
  it('reaches the new claim', async () => {
    const o = server.options();
    const keys = buildKeys(resolveRedisConfig(o));
    const proxy = await proxyToRedis(server, cleanup);
    const w = new Worker({ port: 0, redis: { ...o, port: proxy.port }, heartbeatInterval: 2000, fetchTaskInterval: 20_000, concurrency: 2 });
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    w.addTaskFunction('held', () => released);
    w.addTaskFunction('listen', (t) => new Promise((resolve) => (t.on('go', () => resolve('heard')), setTimeout(() => resolve('deaf'), 3000))));
    cleanup.push(async () => (release(), proxy.heal(), await w.stop()));
    await w.start();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    await until(async () => Number(await redis.call('PUBSUB', 'NUMPAT')) >= 1, "the worker's control subscription");

    const x = await c.submit('held', null, { id: 'x' });
    await until(async () => (await c.get(x))?.state === 'RUNNING', 'the held task running');
    const isBlocked = (line: string) => / flags=\w*b/.test(line) && / cmd=blmove/.test(line);
    await until(async () => String(await redis.call('CLIENT', 'LIST', 'TYPE', 'normal')).split('\n').some(isBlocked), 'the worker blocked on the queue');

    const watch = await redis.duplicate().monitor();
    cleanup.push(async () => void watch.disconnect());
    let renews = 0;
    watch.on('monitor', (_time: string, args: string[]) => {
      if (String(args[0]).toLowerCase() === 'fcall' && /renew/.test(String(args[1]))) renews++;
    });
    // just after a heartbeat: the next, 2 s on, comes after all of this
    await until(() => renews > 0, 'a heartbeat', 5000, 1);
    expect(proxy.hold((hello) => hello.includes(':blocking'))).toBe(1);
    await redis.del(keys.task(x));
    await c.submit('listen', null, { id: x });
    await until(async () => (await c.get(x))?.state === 'RUNNING', 'the new claim run in Redis', 5000, 2);
    await c.control(x, { event_name: 'go' });
    await sleep(100);
    proxy.heal();

    expect(await c.wait(x, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', result: 'heard' });
  }, 30_000);
});
