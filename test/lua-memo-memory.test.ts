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
import { keysFor } from './properties/harness.js';

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

describe('tasks whose hashes name long workers, each different', () => {
  it('handed back: the Lua heap of the script library goes back to about what it was', async () => {
    const keys = keysFor(server.options().keyPrefix);
    const { handBack } = await import('../src/effects/leases.js');
    const run = async (prefix: string, worker: (i: number) => string) => {
      for (let i = 0; i < 300; i += 20) {
        const held = [];
        for (let k = i; k < i + 20; k++) {
          const id = `${prefix}-${k}`;
          // (a RUNNING task's hash, as claim.lua writes it, its worker field edited by hand)
          await redis.hset(keys.task(id), { state: 'RUNNING', update: '1', start: '1', attempt: '1', claims: '1', lease: '1:w', worker: worker(k), function: 'f', data: JSON.stringify({ id, function: 'f' }) });
          await redis.zadd(keys.leases, 1, id);
          await redis.sadd(keys.taskSet, id);
          held.push({ id, lease: '1:w' });
        }
        expect(await handBack(redis, keys, held)).toHaveLength(20);
      }
      for (const pattern of [`${keys.taskKeyPrefix}${prefix}-*`, `${keys.newQueue}*`]) for (const k of await redis.keys(pattern)) await redis.del(k);
    };
    await run('warm', () => 'w:1');
    await redis.call('FUNCTION', 'STATS');
    const before = await functionsHeap(redis);
    // 300 workers named by 64 KiB each (19 MiB of names), each said in a `requeued` event
    await run('long', (k) => `${k}-`.padEnd(65536, 'w'));
    await run('after', () => 'w:1');
    await redis.call('FUNCTION', 'STATS');
    const after = await functionsHeap(redis);
    console.log(`Lua heap of the library: ${before} bytes before, ${after} after`);
    expect(after - before).toBeLessThan(4 * 1024 * 1024);
  }, 120_000);
});
