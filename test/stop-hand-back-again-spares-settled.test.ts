/**
 * A stop past its grace hands its running tasks back. One Redis lost (its hash gone with Redis's
 * data) is not handed back by the first try: a renew re-asserts it, and it is handed back again.
 * A task whose function returns while that renew is on its way is no longer one to hand back:
 * its END is on its way (refused, its hash not re-asserted yet when it arrives, it is tried again
 * once the renew has re-asserted it). The hand-back tried again read the tasks to hand back from
 * before the renew's wait: the finished task went back to the queue, its END was then refused for
 * good, and it ran again.
 *
 * The fault is made on purpose: a TCP proxy that delays the worker's link, the task's hash and
 * the swarm's epoch deleted by hand (Redis lost its data, for this task), and the function let
 * return the moment Redis runs the renew of the hand-back.
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

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe("a stop's hand-back tried again after a renew re-asserted what Redis lost", () => {
  it('a task whose function returned during that renew is not handed back: its END is written, and it runs once', async () => {
    const o = server.options();
    const keys = buildKeys(resolveRedisConfig(o));
    const proxy = await proxyToRedis(server, cleanup);
    const { lines, logger } = collectingLogger();
    // (no heartbeat in the grace: the hand-back is the first to find the hash gone)
    const w = new Worker({ port: 0, redis: { ...o, port: proxy.port }, logger, heartbeatInterval: 2000, stopGrace: 300, abortTimeout: 5000 });
    let finish!: () => void;
    const finished = new Promise<void>((r) => (finish = r));
    let runs = 0;
    w.addTaskFunction('work', async () => (runs++, await finished, 'done'));
    cleanup.push(async () => (finish(), await w.stop()));
    await w.start();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const x = await c.submit('work', null);
    await until(async () => (await c.get(x))?.state === 'RUNNING', 'the task running');

    const watch = await redis.duplicate().monitor();
    cleanup.push(async () => void watch.disconnect());
    const ran: string[] = [];
    watch.on('monitor', (_time: string, args: string[]) => {
      if (String(args[0]).toLowerCase() !== 'fcall') return;
      const name = String(args[1]);
      ran.push(name);
      // the renew after the hand-back: the function returns as Redis runs it
      if (/renew/.test(name) && ran.some((n) => /hand_back/.test(n))) finish();
    });
    // a heartbeat just run: none is on its way when the hash goes
    const before = ran.length;
    await until(() => ran.slice(before).some((n) => /renew/.test(n)), 'a heartbeat', 5000, 1);
    proxy.delay(150);
    const stopped = w.stop();
    await redis.del(keys.task(x), keys.epoch);
    await stopped;
    proxy.heal();

    const t = await c.get(x);
    expect({ state: t?.state, outcome: t?.outcome, result: t?.result }).toEqual({ state: 'END', outcome: 'succeeded', result: 'done' });
    expect(runs).toBe(1);
    expect(lines.filter((l) => /END refused|crash/i.test(l))).toEqual([]);
  }, 30_000);
});
