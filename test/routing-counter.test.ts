/**
 * The queue's routing counter (`new-task:counts` field `seq`, docs/queue-layout.md) numbers the
 * entries a claim routes; a claim reserves a block of numbers at once. A worker's room is its
 * concurrency (up to 2^31 - 1) for each of its functions: a block as large as that room moves the
 * swarm-wide counter by billions per claim, so that after some thousands of claims its numbers
 * pass the 14 digits they are written with (members then sort out of routing order), then 2^53
 * (Lua's numbers lose them: two claims' members alike), then what HINCRBY holds (every claim of
 * every worker fails). The counter must grow with what is routed, not with the room.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Worker } from '../src/index.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { quiet } from './helpers/order.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe('a worker of a very large concurrency', () => {
  it('routes task after task, one claim each, and every task runs; the routing counter grows by the entries routed, not by the room', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const ran: string[] = [];
    const w = new Worker({ port: 0, redis: o, logger: quiet, concurrency: 2147483647 });
    // two functions: a claim of the worker of several functions routes what it cannot take at once
    w.addTaskFunction('f', async (t) => {
      ran.push(t.id);
    });
    w.addTaskFunction('g', async (t) => {
      ran.push(t.id);
    });
    cleanup.push(() => w.stop());
    await w.start();
    // each with a group: routed through the function's structure (placeOf), one claim each
    for (let i = 0; i < 30; i++) {
      await c.submit('f', null, { id: `t-${i}`, group: 'x' });
      const deadline = Date.now() + 5000;
      while (!ran.includes(`t-${i}`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    }
    // and plain entries pushed by hand, routed by the claims
    for (let i = 0; i < 30; i++) {
      await redis.lpush(`${o.keyPrefix ?? ''}new-task`, JSON.stringify({ id: `p-${i}`, function: 'f', group: 'y', data: null }));
      const deadline = Date.now() + 5000;
      while (!ran.includes(`p-${i}`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    }
    expect(ran.filter((id) => id.startsWith('t-')).length).toBe(30);
    expect(ran.filter((id) => id.startsWith('p-')).length).toBe(30);
    const seq = Number(await redis.hget(`${o.keyPrefix ?? ''}new-task:counts`, 'seq'));
    expect(seq).toBeLessThan(1e6);
  }, 60_000);
});
