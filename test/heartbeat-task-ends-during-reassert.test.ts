/**
 * A heartbeat that finds a running task's hash gone (cleaned up while the worker was paused, or
 * deleted by hand) asks Redis to re-assert it, and waits for that answer. A task that ends
 * meanwhile is no longer the worker's when the answer comes. The heartbeat counted each lost
 * lease as one of the worker's tasks, read again after the wait: the ended one was not there,
 * and counting it threw ("Invalid value used in weak set"), so the heartbeat failed and the
 * worker took Redis for lost (CI: test/lease-unique-paused-worker.test.ts, once). Reported lost
 * after it ended, its id could also abort a new claim of the same id.
 *
 * The fault is made on purpose: a TCP proxy that delays the worker's link, the hash deleted by
 * hand, and the task let end the moment Redis runs the heartbeat that finds it gone, so that its
 * end is answered between the heartbeat's answer and the re-assertion's.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Worker } from '../src/index.js';
import { buildKeys } from '../src/keys.js';
import { resolveRedisConfig } from '../src/config.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { proxyToRedis } from './helpers/tcp-proxy.js';
import { collectingLogger } from './helpers/collecting-logger.js';
import { monitorRedis } from './helpers/monitor.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a lost lease whose id is claimed again while the heartbeat re-asserts another vanished hash', () => {
  it('the heartbeat does not fail, and the new claim of the id is not aborted for the old one', async () => {
    const o = server.options();
    const keys = buildKeys(resolveRedisConfig(o));
    const proxy = await proxyToRedis(server, cleanup);
    const { lines, logger } = collectingLogger();
    const w = new Worker({ port: 0, redis: { ...o, port: proxy.port }, logger, heartbeatInterval: 200, concurrency: 3 });
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    w.addTaskFunction('held', () => released);
    // long enough to be running still when the heartbeat that waited on the re-assertions ends
    w.addTaskFunction('slow', async (t) => (await sleep(2000), t.data));
    cleanup.push(async () => (release(), await w.stop()));
    await w.start();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());

    const x = await c.submit('held', null, { id: 'x' });
    const y = await c.submit('held', null, { id: 'y' });
    await until(async () => (await c.get(x))?.state === 'RUNNING' && (await c.get(y))?.state === 'RUNNING', 'both held tasks running');

    let renewsRun = 0;
    const watch = await monitorRedis(server.options(), (args) => {
      if (String(args[0]).toLowerCase() === 'fcall' && /renew/.test(String(args[1]))) renewsRun++;
    });
    cleanup.push(async () => watch.stop());
    proxy.delay(300);
    await redis.del(keys.task(x), keys.task(y));
    // The first renew Redis runs after the hashes are gone finds both missing; x, submitted again
    // now, is claimed by this worker while the heartbeat waits for its re-assertions
    const before = renewsRun;
    await until(() => renewsRun > before, 'a heartbeat run by Redis after the hashes were deleted', 5000, 1);
    await c.submit('slow', 'again', { id: x });
    const again = await c.wait(x, { timeout: 10_000 });
    proxy.heal();

    expect(lines.filter((l) => /heartbeat failed|crash/i.test(l))).toEqual([]);
    expect({ outcome: again.outcome, attempt: again.attempt, result: again.result }).toEqual({ outcome: 'succeeded', attempt: 1, result: 'again' });
    expect(JSON.stringify(w.state)).not.toMatch(/partition|lost|halt/i);
  }, 30_000);
});
