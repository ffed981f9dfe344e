/**
 * `Client.wait`'s `goneAfter` counts what Redis answered, not when the answer reached the
 * client: a read that found the task gone, its reply slow on its way back (a slow link, an
 * event loop held), says the task was gone when Redis ran it, not when the reply came. A task
 * back meanwhile (a worker re-asserts a running task about a heartbeat after Redis lost it) is
 * not reported gone on the strength of that late reply.
 * Real redis-server; the client's command connection goes through a proxy the test controls.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client } from '../src/index.js';
import type { RedisServer } from './helpers/redis-server.js';
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
  const t = { settled: false, error: undefined as unknown, promise: p };
  p.then(
    () => (t.settled = true),
    (e: unknown) => ((t.settled = true), (t.error = e)),
  );
  return t;
}

describe('a read that found the task gone, its reply late', () => {
  it('does not count past when Redis ran it: the task back meanwhile is waited for, to its real end', async () => {
    const o = server.options();
    const proxy = await startProxy(server.host, server.port);
    cleanup.push(() => proxy.close());
    const c = new Client({ redis: { ...o, host: '127.0.0.1', port: proxy.port } });
    cleanup.push(() => c.close());
    const id = await c.submit('later', null, { delay: 60_000 }); // its hash written: DELAYED
    // (reads only when the test hints: the poll far away)
    const waiting = track(c.wait(id, { goneAfter: 1000, pollInterval: 60_000 }));
    await sleep(200); // seen DELAYED
    const key = `${o.keyPrefix}task-${id}`;
    const channel = `${key}-events`;
    const hint = () => redis.publish(channel, JSON.stringify({ event: 'progress', data: { id }, at: Date.now() }));
    const hash = await redis.hgetall(key);
    await redis.del(key); // lost (as Redis restarted empty loses it)
    await hint(); // a read finds it gone: the count starts
    await sleep(100);
    // The next read runs in Redis at once and finds it gone still; its reply is held on its way.
    expect(proxy.hold((hello) => hello.includes(':command'))).toBe(1);
    await hint();
    await sleep(100);
    await redis.hset(key, hash); // back within 200 ms (as a worker re-asserts it)
    await sleep(1100); // past goneAfter since the first read found it gone
    proxy.heal(); // the late reply arrives: gone, as Redis found it 1.2 s ago
    await sleep(300);
    expect(waiting.error).toBeUndefined();
    expect(waiting.settled).toBe(false);
    await c.cancel(id);
    expect(await waiting.promise).toMatchObject({ id, state: 'END', outcome: 'cancelled' });
  });
});
