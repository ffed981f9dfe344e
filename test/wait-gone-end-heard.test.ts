/**
 * `Client.wait`'s `goneAfter` rejects a task found gone with no end heard. An end heard while
 * the read that judges it gone is on its way (that read began before the end, and cannot tell
 * "gone after the end" from "gone") is an end heard: the read after it answers, from the end
 * event, as for any hash cleaned up at once after its end (endRetention 0).
 * Real worker, monitor and redis-server; the client's command connection goes through a proxy.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Monitor, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { startProxy } from './helpers/tcp-proxy.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** a promise whose state the test can look at without awaiting it */
function track<T>(p: Promise<T>) {
  const t = { settled: false, promise: p };
  p.then(
    () => (t.settled = true),
    () => (t.settled = true),
  );
  return t;
}

describe('an end heard while the read that finds the task gone is on its way', () => {
  it('is answered from the end event, not rejected as gone', async () => {
    const o = server.options();
    const m = new Monitor({ redis: o, endRetention: 0, checkTaskInterval: 50 });
    cleanup.push(() => m.stop());
    await m.start();
    // (no heartbeat within the test: the hash is lost and put back by hand, as Redis's restart
    // and the worker's re-assertion would)
    const w = new Worker({ port: 0, redis: o, heartbeatInterval: 30_000 });
    cleanup.push(() => w.stop());
    let open!: () => void;
    const opened = new Promise<void>((r) => (open = r));
    w.addTaskFunction('job', async () => {
      await opened;
      return 'real';
    });
    await w.start();
    const proxy = await startProxy(server.host, server.port);
    cleanup.push(() => proxy.close());
    const c = new Client({ redis: { ...o, host: '127.0.0.1', port: proxy.port } });
    cleanup.push(() => c.close());
    const id = await c.submit('job');
    const key = `${o.keyPrefix}task-${id}`;
    await until(async () => (await redis.hget(key, 'state')) === 'RUNNING', 'RUNNING');
    const waiting = track(c.wait(id, { goneAfter: 1000, pollInterval: 60_000 }));
    await sleep(200); // seen RUNNING

    const hash = await redis.hgetall(key);
    await redis.del(key); // lost
    const hinted = performance.now();
    await redis.publish(`${key}-events`, JSON.stringify({ event: 'progress', data: { id }, at: Date.now() })); // a read finds it gone
    await sleep(900);
    // The read that judges it, sent once goneAfter has passed (this process held past it, so
    // that the read is sent past it, not at it), finds it gone; its reply is held.
    expect(proxy.hold((hello) => hello.includes(':command'))).toBe(1);
    while (performance.now() - hinted < 1150); // (held: the wait's timers wait too)
    await sleep(200);
    // Back (re-asserted), it ends: its end event heard, its hash cleaned up at once.
    await redis.hset(key, hash);
    open();
    await until(async () => (await redis.exists(key)) === 0, 'ended and cleaned up');
    await sleep(100);
    expect(waiting.settled).toBe(false);
    proxy.heal();
    expect(await waiting.promise).toMatchObject({ id, state: 'END', outcome: 'succeeded', result: 'real', fromEndEvent: true });
  });
});
