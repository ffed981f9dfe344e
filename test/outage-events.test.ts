/**
 * Found in the review of issue 7 (item 7 and the outbox): events a task emits while Redis is away wait in the
 * outbox until the worker has reconciled. The task's END does not wait: it is retried on its
 * own, and a command written before the outage runs as soon as Redis answers. When the END lands
 * first, emit.lua finds the task ended and fences every event it emitted before it: they are
 * dropped, and a subscriber sees `end` without the progress that preceded it. The test failed before the fix.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('events emitted during a Redis outage by a task that ends during it', () => {
  it('reach subscribers before its end', { timeout: 30_000 }, async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const sub = server.client();
    const got: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const w = new Worker({ port: 0, redis: o, logger: quiet, heartbeatInterval: 200 });
    w.addTaskFunction('report', async (t) => {
      await gate;
      for (const pct of [25, 50, 75]) t.emit('progress', { pct });
      return 'done';
    });
    const c = new Client({ redis: o });
    cleanup.push(async () => sub.disconnect(), () => c.close(), () => w.stop());
    await w.start();
    const id = await c.submit('report', {});
    sub.on('message', (_ch: string, m: string) => got.push((JSON.parse(m) as { event: string }).event));
    await sub.subscribe(keys.events(id));
    await until(async () => (await c.get(id))?.state === 'RUNNING', 'running');
    server.freeze();
    try {
      await until(() => w.state === 'redisDown', 'the worker sees the outage', 10_000);
      release(); // the task emits three events and returns while Redis is away
      await sleep(1500);
    } finally {
      server.thaw();
    }
    await until(async () => (await redis.hget(keys.task(id), 'state')) === 'END', 'ended', 10_000);
    await until(() => got.includes('end'), 'the end event', 10_000);
    await sleep(500); // (nothing more comes)
    // what the review saw: ['end'] (the three progress events fenced and dropped)
    expect(got).toEqual(['progress', 'progress', 'progress', 'end']);
  });
});
