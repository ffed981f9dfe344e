/**
 * A task claimed is judged, should its hash vanish, against the epoch under which the worker
 * claimed it (reassert.lua: the hash of a task claimed since Redis last lost its data was cleaned
 * up, not lost, and is not brought back). A heartbeat that finds Redis's data lost (a new epoch)
 * re-asserts what it lost, and waits for each answer; the partition's epoch, which a claim's
 * tasks take, was moved to the new one only after those waits. A task claimed meanwhile, under
 * the new epoch, was taken for one claimed before the loss: its hash deleted afterwards, the
 * next heartbeat re-asserted it, a task nobody should run brought back as RUNNING.
 *
 * The fault is made on purpose: a TCP proxy that delays the worker's link, the epoch and some
 * running tasks' hashes deleted by hand (Redis lost its data, for them), a task submitted as Redis
 * runs the heartbeat that finds them gone, and its hash deleted by hand once it is claimed.
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

describe('a task claimed while a heartbeat re-asserts what Redis lost', () => {
  it('is judged against the epoch it was claimed under: its hash deleted since, it is not re-asserted', async () => {
    const o = server.options();
    const keys = buildKeys(resolveRedisConfig(o));
    const proxy = await proxyToRedis(server, cleanup);
    const { lines, logger } = collectingLogger();
    const w = new Worker({ port: 0, redis: { ...o, port: proxy.port }, logger, heartbeatInterval: 1000, concurrency: 8 });
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    w.addTaskFunction('held', () => released);
    cleanup.push(async () => (release(), proxy.heal(), await w.stop()));
    await w.start();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());

    // several: their re-assertions, one after another, keep the heartbeat waiting
    const lost = ['a1', 'a2', 'a3', 'a4'];
    for (const id of lost) await c.submit('held', null, { id });
    await until(async () => (await Promise.all(lost.map((id) => c.get(id)))).every((t) => t?.state === 'RUNNING'), 'the held tasks running');

    const ran: string[] = [];
    const watch = await monitorRedis(server.options(), (args) => {
      if (String(args[0]).toLowerCase() === 'fcall') ran.push(`${String(args[1]).replace(/^.*_/, '')} ${args.slice(3).join(' ')}`);
    });
    cleanup.push(async () => watch.stop());
    proxy.delay(150);
    await redis.del(keys.epoch, ...lost.map((id) => keys.task(id)));
    const before = ran.length;
    await until(() => ran.slice(before).some((r) => r.startsWith('renew')), 'the heartbeat that finds them gone', 5000, 1);
    const b = await c.submit('held', null, { id: 'b' });
    await until(() => w.running.includes(b), 'the new task claimed', 5000, 1);
    // the heartbeat over (its last re-assertion answered), the next a second away
    await until(() => lost.every((id) => lines.some((l) => l.includes(`"${id}": Redis lost its data`))), 'every lost task re-asserted', 5000, 1);
    await redis.del(keys.task(b));
    const after = ran.length;
    await until(() => ran.slice(after).filter((r) => r.startsWith('renew')).length >= 2, 'two heartbeats since', 10_000);

    expect(lines.filter((l) => l.includes(`"${b}"`) && /re-asserted/.test(l))).toEqual([]);
    expect(await redis.exists(keys.task(b))).toBe(0);
    expect(w.running).not.toContain(b);
  }, 30_000);
});
