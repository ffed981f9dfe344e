/**
 * Redis loses its data (FLUSHALL) while an idle worker's wait has just claimed a task: the claim
 * ran under the old data, its hash went with them, and its reply, on the blocking connection,
 * comes after the heartbeat that found the loss and while that heartbeat re-asserts another of
 * the worker's tasks. The claim ran under the old epoch: its hash lost with the data is re-asserted
 * at the next heartbeat, as any running task's is. Taken as a claim of the new epoch, its hash was
 * read as cleaned up: its lease told lost, the worker dropped it, and the task was nowhere.
 *
 * The window is made wide on purpose: a TCP proxy holds the blocking connection's replies and
 * then slows every reply, so that the claim's answer lands between the heartbeat's and its
 * re-assertion's.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
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

describe('a claim that ran before Redis lost its data, answered while a heartbeat re-asserts', () => {
  it('has its task re-asserted, not dropped as lost', async () => {
    const o = server.options();
    const proxy = await proxyToRedis(server, cleanup);
    const { lines, logger } = collectingLogger();
    const w = new Worker({ port: 0, redis: { ...o, port: proxy.port }, logger, heartbeatInterval: 1500, fetchTaskInterval: 20_000, concurrency: 2 });
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    w.addTaskFunction('held', (t) => released.then(() => t.data));
    cleanup.push(async () => (release(), proxy.heal(), await w.stop()));
    await w.start();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());

    const x = await c.submit('held', 'x', { id: 'x' });
    await until(async () => (await c.get(x))?.state === 'RUNNING', 'x running');
    const isBlocked = (line: string) => / flags=\w*b/.test(line) && / cmd=blmove/.test(line);
    await until(async () => String(await redis.call('CLIENT', 'LIST', 'TYPE', 'normal')).split('\n').some(isBlocked), 'the worker blocked on the queue');

    let renews = 0;
    let reasserts = 0;
    const watch = await monitorRedis(server.options(), (args) => {
      if (String(args[0]).toLowerCase() !== 'fcall') return;
      if (/renew/.test(String(args[1]))) renews++;
      if (/reassert/.test(String(args[1]))) reasserts++;
    });
    cleanup.push(async () => watch.stop());
    // just after a heartbeat, so that what follows comes before the next
    await until(() => renews > 0, 'a heartbeat', 5000, 1);
    expect(proxy.hold((hello) => hello.includes(':blocking'))).toBe(1);
    const y = await c.submit('held', 'y', { id: 'y' });
    await until(async () => (await c.get(y))?.state === 'RUNNING', 'y claimed in Redis by the wait');
    await redis.flushall();
    proxy.delay(400);
    const seen = renews;
    await until(() => renews > seen, 'the heartbeat that finds the loss', 5000, 1);
    // its answer comes 400 ms on, the re-assertion's 800 ms after that: the claim's in between
    await sleep(400);
    proxy.heal();
    proxy.delay(400);
    await until(() => reasserts > 0, "x's re-assertion", 5000, 1);
    proxy.heal();
    // the next heartbeat finds y's hash missing too
    await until(() => reasserts > 1 || lines.some((l) => /lease lost/.test(l)), "the next heartbeat's judgement of y", 8000);
    release();

    expect(lines.filter((l) => /lease lost/.test(l))).toEqual([]);
    expect(await c.wait(y, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', result: 'y' });
    expect(await c.wait(x, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', result: 'x' });
  }, 40_000);
});
