/**
 * The script library keeps a few memos across calls (lib/names.lua: a function's key names;
 * lib/event.lua: a string's JSON). They live in Redis's Lua heap, which maxmemory does not count
 * and nothing but the memo's own bound frees. A function name comes from a queue entry: any
 * string up to maxPayloadBytes. A producer that writes long, ever-different function names (a
 * payload pasted into the name) must not leave Redis holding several copies of each for good,
 * after its tasks are gone.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Worker } from '../src/index.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { quiet } from './helpers/order.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

async function functionsHeap(r: Redis): Promise<number> {
  const info = await r.info('memory');
  return Number(/used_memory_vm_functions:(\d+)/.exec(info)![1]);
}

describe('entries with long function names, each different', () => {
  it('routed, then deleted: the Lua heap of the script library goes back to about what it was', async () => {
    const o = server.options();
    const q = `${o.keyPrefix}new-task`;
    const w = new Worker({ port: 0, redis: o, logger: quiet, concurrency: 1 });
    const ran: string[] = [];
    w.addTaskFunction('f', async (t) => {
      ran.push(t.id);
    });
    cleanup.push(() => w.stop());
    await w.start();
    const until = async (id: string) => {
      const deadline = Date.now() + 10_000;
      while (!ran.includes(id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(ran).toContain(id);
    };
    await redis.lpush(q, JSON.stringify({ id: 'warm', function: 'f', data: null }));
    await until('warm');
    const before = await functionsHeap(redis);
    // 300 entries, each of a function of its own named by 64 KiB (19 MiB of names): routed into
    // their functions' queues (no worker serves them), by the worker's claims
    const names = 300;
    for (let i = 0; i < names; i += 20) {
      const batch = Array.from({ length: 20 }, (_, k) => JSON.stringify({ id: `long-${i + k}`, function: `${i + k}-`.padEnd(65536, 'x'), group: 'g', data: null }));
      await redis.lpush(q, ...batch);
      await redis.lpush(q, JSON.stringify({ id: `tick-${i}`, function: 'f', data: null }));
      await until(`tick-${i}`);
    }
    // every long entry was routed: QUEUED
    expect(await redis.hget(`${o.keyPrefix}task-long-${names - 1}`, 'state')).toBe('QUEUED');
    // gone (an operator cleans up the bad tasks): nothing of them is left in the keyspace
    for (const pattern of [`${o.keyPrefix}task-long-*`, `${o.keyPrefix}new-task:f:*`]) {
      for (const k of await redis.keys(pattern)) await redis.del(k);
    }
    // the library runs on: claims, so that Lua collects what is garbage
    for (let i = 0; i < 200; i++) {
      await redis.lpush(q, JSON.stringify({ id: `after-${i}`, function: 'f', data: null }));
      await until(`after-${i}`);
    }
    await redis.call('FUNCTION', 'STATS');
    const after = await functionsHeap(redis);
    console.log(`Lua heap of the library: ${before} bytes before, ${after} after`);
    expect(after - before).toBeLessThan(4 * 1024 * 1024);
  }, 120_000);
});
