/**
 * A stop past its grace halts its running tasks and hands them back once their functions have
 * returned. One whose hash Redis lost meanwhile (its data gone) is not handed back by the first
 * try: a renew of the kept leases finds it missing, it is re-asserted from the record the stop
 * kept (its task machine has ended, its record left the worker's tasks), and handed back. A task
 * whose function returned within the grace, its END still on its way through a slow link, is not
 * one to hand back: its END is written, and it runs once.
 *
 * The fault is made on purpose: a TCP proxy that delays the worker's link, and the halted task's
 * hash and the swarm's epoch deleted by hand (Redis lost its data, for this task) after the last
 * heartbeat of the grace.
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

describe("a stop's hand-back of a task whose hash Redis lost during the stop", () => {
  it('re-asserts it from the record kept and hands it back; a task that finished in the grace is not handed back, and runs once', async () => {
    const o = server.options();
    const keys = buildKeys(resolveRedisConfig(o));
    const proxy = await proxyToRedis(server, cleanup);
    const { lines, logger } = collectingLogger();
    // (no heartbeat in the grace: the hand-back is the first to find the hash gone)
    const w = new Worker({ port: 0, redis: { ...o, port: proxy.port }, logger, heartbeatInterval: 2000, stopGrace: 300, abortTimeout: 5000 });
    let finish!: () => void;
    const finished = new Promise<void>((r) => (finish = r));
    const runs = new Map<string, number>();
    w.addTaskFunction('work', async ({ id, data, signal }) => {
      runs.set(id, (runs.get(id) ?? 0) + 1);
      if (data === 'finishes') return (await finished, 'done');
      // heeds its abort
      return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    });
    cleanup.push(async () => (finish(), await w.stop()));
    await w.start();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const x = await c.submit('work', 'finishes');
    const y = await c.submit('work', 'halted');
    // (both functions called: a task RUNNING in Redis may still be on its claim's way, and a stop
    // hands such a claim's tasks back unrun: x would be queued again, not ended)
    await until(() => runs.get(x) === 1 && runs.get(y) === 1, 'the tasks running');

    const ran: string[] = [];
    const watch = await monitorRedis(server.options(), (args) => {
      if (String(args[0]).toLowerCase() === 'fcall') ran.push(String(args[1]));
    });
    cleanup.push(async () => watch.stop());
    // a heartbeat just run: none is on its way when the hash goes
    const before = ran.length;
    await until(() => ran.slice(before).some((n) => /renew/.test(n)), 'a heartbeat', 5000, 1);
    proxy.delay(150);
    const stopped = w.stop();
    await redis.del(keys.task(y), keys.epoch);
    finish(); // x returns within the grace: its END goes out through the slow link
    await stopped;
    proxy.heal();

    const [tx, ty] = await Promise.all([c.get(x), c.get(y)]);
    expect({ state: tx?.state, outcome: tx?.outcome, result: tx?.result }).toEqual({ state: 'END', outcome: 'succeeded', result: 'done' });
    expect(ty?.state, lines.join('\n')).toBe('QUEUED');
    expect([runs.get(x), runs.get(y)]).toEqual([1, 1]);
    // y was found missing and re-asserted by the hand-back's renew, not by a heartbeat
    expect(ran.slice(ran.indexOf(ran.slice(before).find((n) => /hand_back/.test(n))!)).some((n) => /reassert/.test(n)), ran.join(' ')).toBe(true);
    expect(lines.filter((l) => /END refused|crash|could not hand back/i.test(l))).toEqual([]);
  }, 30_000);
});
