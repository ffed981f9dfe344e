/**
 * A worker of thousands of functions: a claim names two keys of each (is anything queued or
 * blocked for it), more than Lua's `unpack` can hand to one redis.call (about 8,000 values).
 * Its claims must still run, idle and busy, and its tasks start.
 */
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { quiet } from './helpers/order.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

describe('a worker of 5,000 functions', () => {
  it('claims and runs a task of its last function, submitted while it is idle, and a seed burst after it', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const started: string[] = [];
    const w = new Worker({ port: 0, redis: o, logger: quiet, concurrency: 4 });
    for (let i = 0; i < 5000; i++) w.addTaskFunction(`f${i}`, async (t) => void started.push(t.id));
    cleanup.push(() => w.stop());
    await w.start();
    const id = await c.submit('f4999', null);
    expect(await c.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded' });
    const ids = await c.submitMany(Array.from({ length: 20 }, (_, i) => ({ fn: `f${i}`, data: i })));
    for (const each of ids) expect(await c.wait(each, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded' });
    expect(started.sort()).toEqual([id, ...ids].sort());
  }, 60_000);
});
