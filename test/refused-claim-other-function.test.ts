/**
 * A worker of two functions, one of whose queues is damaged by hand (WRONGTYPE): the claim that
 * takes a healthy function's entry at once (routing) must not then fail in its claiming step at
 * the damaged function, its reply lost: the task taken is RUNNING for a worker never told of it,
 * requeued a taskTimeout on as a death, again and again (parked max_attempts in the end).
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { claimAs, fnGroupsKey, keysFor } from './properties/harness.js';
import { Client, Worker } from '../src/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe("a claim beside a damaged function's queue", () => {
  it('tells its worker of the healthy task it took', async () => {
    const keys = keysFor(server.options().keyPrefix);
    await redis.set(fnGroupsKey(keys, 'fx'), 'not a sorted set');
    await redis.lpush(keys.newQueue, JSON.stringify({ id: 'a-1', function: 'fa', data: 1 }));
    const c = await claimAs(redis, keys, 'w1:1', 4, 1_000_000, ['fa', 'fx']).catch((e: Error) => e);
    const state = await redis.hget(keys.task('a-1'), 'state');
    const told = !(c instanceof Error) && c.claimed.some((t) => t.id === 'a-1');
    expect(state !== 'RUNNING' || told, `a-1 ${state}, claim ${c instanceof Error ? 'failed: ' + c.message : 'answered'}`).toBe(true);
  });

  it("a worker of both runs the healthy function's tasks, says once what Redis refused, and does not spin", async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const client = new Client({ redis: o });
    cleanup.push(() => client.close());
    await client.submit('fx', 1, { id: 'x-1', group: 'g' });
    await redis.set(fnGroupsKey(keys, 'fx'), 'not a sorted set');
    const errors: string[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (m: unknown) => void errors.push(String(m)) };
    const worker = new Worker({ port: 0, redis: o, concurrency: 4, fetchTaskInterval: 500, logger });
    const ran: string[] = [];
    worker.addTaskFunction('fa', (t) => void ran.push(t.id));
    worker.addTaskFunction('fx', (t) => void ran.push(t.id));
    cleanup.push(() => worker.stop());
    await worker.start();
    const ids = ['a-1', 'a-2', 'a-3'];
    for (const id of ids) await client.submit('fa', 1, { id });
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && ran.length < ids.length) await sleep(50);
    expect(ran.sort()).toEqual(ids);
    // idle for 2 s: its waits end at their poll (500 ms), not at once again and again
    const calls = async () => Number(/cmdstat_fcall:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
    const before = await calls();
    await sleep(2000);
    expect(await calls() - before).toBeLessThan(40);
    expect(errors.filter((e) => /claims of function "fx" were refused by Redis \(WRONGTYPE/.test(e))).toHaveLength(1);
    // mended: its task runs
    await redis.del(fnGroupsKey(keys, 'fx'));
    await client.submit('fx', 2, { id: 'x-2', group: 'g' });
    const again = Date.now() + 5000;
    while (Date.now() < again && !ran.includes('x-2')) await sleep(50);
    expect(ran).toContain('x-2');
  }, 20_000);
});
