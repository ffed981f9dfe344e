/**
 * With several partitions, a heartbeat renews each partition's leases in its own call, and each
 * partition's answer is judged on its own: a lease found lost there is checked against the claim
 * the worker holds now (195b802), once that partition's re-assertions have answered. The
 * heartbeat reports what every partition lost together, once the last has answered. A partition
 * that answers early waits for the others: a task it found lost can be claimed again here, under
 * a new lease, meanwhile, and told lost then, the new claim of its id was aborted for the old
 * one's lease.
 *
 * The fault is made on purpose: a TCP proxy that delays the worker's link, hashes deleted by
 * hand (one in one partition, several in the other, whose re-assertions go one after another),
 * and the lost task's id submitted again as soon as Redis has judged it lost.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Worker } from '../src/index.js';
import { resolveRedisConfig } from '../src/config.js';
import { partitionKeys, partitionOf } from '../src/partitions.js';
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

/** the first `n` ids of the form `<stem><i>` that fall in partition `p` of 2 */
const idsIn = (p: number, stem: string, n: number) => {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) if (partitionOf(`${stem}${i}`, 2) === p) out.push(`${stem}${i}`);
  return out;
};

describe('a lease lost in one partition while the heartbeat still waits on another', () => {
  it('a new claim of the lost id, made meanwhile, is not aborted for the old one', async () => {
    const r = { ...server.options(), keyPrefix: '{hbp}:', partitions: 2 };
    const parts = partitionKeys(resolveRedisConfig(r));
    const proxy = await proxyToRedis(server, cleanup);
    const { lines, logger } = collectingLogger();
    const w = new Worker({ port: 0, redis: { ...r, port: proxy.port }, logger, heartbeatInterval: 200, concurrency: 9 });
    let release!: () => void;
    const released = new Promise<void>((res) => (release = res));
    w.addTaskFunction('held', () => released);
    w.addTaskFunction('slow', async (t) => (await sleep(1500), t.data));
    cleanup.push(async () => (release(), await w.stop()));
    await w.start();
    const c = new Client({ redis: r });
    cleanup.push(() => c.close());

    const [x] = idsIn(0, 'x', 1) as [string];
    // several in the other partition: their re-assertions, one at a time, keep its answer waiting
    const ys = idsIn(1, 'y', 6);
    for (const id of [x, ...ys]) await c.submit('held', null, { id });
    await until(async () => (await Promise.all([x, ...ys].map((id) => c.get(id)))).every((t) => t?.state === 'RUNNING'), 'every held task running');

    let xJudged = false;
    const watch = await monitorRedis(server.options(), (args) => {
      if (String(args[0]).toLowerCase() === 'fcall' && /reassert/.test(String(args[1])) && args.includes(x)) xJudged = true;
    });
    cleanup.push(async () => watch.stop());
    proxy.delay(150);
    await redis.del(parts[0]!.task(x), ...ys.map((y) => parts[1]!.task(y)));
    // Redis has found x's hash gone for good (no data lost: the same epoch); x, submitted again
    // now, is claimed here while the other partition's re-assertions are still on their way
    await until(() => xJudged, 'the re-assertion of x run by Redis', 5000, 1);
    await c.submit('slow', 'again', { id: x });
    const again = await c.wait(x, { timeout: 10_000 });
    proxy.heal();

    expect(lines.filter((l) => /heartbeat failed|crash/i.test(l))).toEqual([]);
    expect({ outcome: again.outcome, attempt: again.attempt, result: again.result }).toEqual({ outcome: 'succeeded', attempt: 1, result: 'again' });
  }, 30_000);
});
