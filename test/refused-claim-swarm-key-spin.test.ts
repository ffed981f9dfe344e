/**
 * A swarm key a claim writes damaged by hand (WRONGTYPE: here `running`, under a rate-only limit
 * on the function) refuses every claim of that function while its tasks wait queued. ready.lua
 * reads only the function's queue, finds it ready and pushes a wake marker at every wait: an
 * idle worker must not spin (a claim after a claim, each refused), and must say what Redis
 * refused at most once in 30 s. So with a group's zset of the function damaged (its turns, which
 * ready.lua reads, whole): the claim refuses at its pop.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { claimAs, fnGroupKey, keysFor } from './properties/harness.js';
import { Worker } from '../src/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe('an idle worker beside a damaged swarm key', () => {
  it('does not spin while its function waits queued', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    // a task of fr routed into its queue (by a worker of another function)
    await redis.lpush(keys.newQueue, JSON.stringify({ id: 'r-1', function: 'fr', group: 'g', data: 1 }));
    await claimAs(redis, keys, 'w0:1', 4, 1_000_000, ['other']);
    await redis.hset(`${keys.newQueue}:limits`, 'f:fr', JSON.stringify({ rate: { max: 1000, per: 1000 } }));
    await redis.set(`${keys.newQueue}:running`, 'not a hash');
    const errors: string[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (m: unknown) => void errors.push(String(m)) };
    const worker = new Worker({ port: 0, redis: o, concurrency: 4, fetchTaskInterval: 500, logger });
    const ran: string[] = [];
    worker.addTaskFunction('fr', (t) => void ran.push(t.id));
    cleanup.push(() => worker.stop());
    await worker.start();
    await sleep(500);
    const calls = async () => Number(/cmdstat_fcall:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
    const before = await calls();
    await sleep(2000);
    const made = (await calls()) - before;
    expect(ran).toEqual([]);
    expect(made, `${made} script calls in 2 s`).toBeLessThan(40);
    expect(errors.filter((e) => /refused by Redis \(WRONGTYPE/.test(e)).length, errors.join('\n')).toBeLessThanOrEqual(1);
    // mended: its task runs
    await redis.del(`${keys.newQueue}:running`);
    const again = Date.now() + 5000;
    while (Date.now() < again && !ran.includes('r-1')) await sleep(50);
    expect(ran).toContain('r-1');
  }, 20_000);
  it("does not spin while a group's zset of its function is damaged", async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    await redis.lpush(keys.newQueue, JSON.stringify({ id: 'z-1', function: 'fz', group: 'g', data: 1 }));
    await claimAs(redis, keys, 'w0:1', 4, 1_000_000, ['other']);
    await redis.del(fnGroupKey(keys, 'fz', 'g'));
    await redis.set(fnGroupKey(keys, 'fz', 'g'), 'not a sorted set');
    const errors: string[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (m: unknown) => void errors.push(String(m)) };
    const worker = new Worker({ port: 0, redis: o, concurrency: 4, fetchTaskInterval: 500, logger });
    worker.addTaskFunction('fz', () => {});
    cleanup.push(() => worker.stop());
    await worker.start();
    await sleep(500);
    const calls = async () => Number(/cmdstat_fcall:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
    const before = await calls();
    await sleep(2000);
    const made = (await calls()) - before;
    expect(made, `${made} script calls in 2 s`).toBeLessThan(40);
    expect(errors.filter((e) => /refused by Redis \(WRONGTYPE/.test(e)).length, errors.join('\n')).toBe(1);
  }, 20_000);
});
