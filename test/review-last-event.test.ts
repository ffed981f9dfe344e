/**
 * A task's last event in its hash (`last_event`) stays one small field whatever the task emits:
 * an event over LAST_EVENT_MAX is kept as its name and time, and a name that is itself huge is
 * cut, so a task cannot grow its hash (and every task page that reads it) by its event names.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { LAST_EVENT_MAX } from '../src/wire.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe("a task's last event", () => {
  it('stays within LAST_EVENT_MAX in the hash when the event name itself is huge', async () => {
    const o = server.options();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const w = new Worker({ port: 0, redis: o });
    cleanup.push(() => w.stop());
    const name = 'n'.repeat(200_000);
    w.addTaskFunction('big-name', async (task) => {
      task.emit(name, 1);
      await held;
      return 'done';
    });
    await w.start();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('big-name', null);
    const last = await until(async () => (await c.get(id))?.lastEvent, 'the large event as its last');
    expect(last.event.startsWith('nnnn')).toBe(true);
    expect(await redis.hstrlen(keysFor(o.keyPrefix).task(id), 'last_event')).toBeLessThanOrEqual(LAST_EVENT_MAX);
    release();
    await c.wait(id, { timeout: 10_000 });
  }, 30_000);
});
