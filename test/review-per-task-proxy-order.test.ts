/**
 * Review of the per-task path, its fault tests' own tool: the TCP proxy (test/helpers/tcp-proxy.ts)
 * must keep the bytes of each direction in order whatever its latency does. It delayed each chunk
 * by the latency in force when the chunk arrived, so when the latency fell (heal() after
 * delay(ms), or a shorter delay) a later chunk overtook earlier ones still held: the Redis
 * protocol stream came out shuffled, and the worker behind the proxy read replies meant for other
 * commands (a heartbeat answered by a claim's reply, claim-recover by a script's) — faults no
 * real network makes, which a fault test could then blame on the worker, or hide a real one.
 */
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { redisPerFile } from './helpers/suite.js';
import type { RedisServer } from './helpers/redis-server.js';
import { startProxy } from './helpers/tcp-proxy.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the test proxy', () => {
  for (const [name, change] of [
    ['heal() while chunks are held', (p: Awaited<ReturnType<typeof startProxy>>) => p.heal()],
    ['a shorter delay while chunks are held', (p: Awaited<ReturnType<typeof startProxy>>) => p.delay(20)],
  ] as const) {
    it(`keeps each direction in order across ${name}`, async () => {
      const proxy = await startProxy(server.host, server.port);
      const conn = new Redis({ host: '127.0.0.1', port: proxy.port, enableAutoPipelining: false, maxRetriesPerRequest: 0 });
      conn.on('error', () => {});
      cleanup.push(async () => conn.disconnect(), () => proxy.close());
      await conn.ping();
      const replies: Promise<string>[] = [];
      for (let i = 0; i < 60; i++) {
        if (i === 10) proxy.delay(200);
        if (i === 40) change(proxy);
        replies.push(conn.echo(`n${i}`).catch((e: Error) => `error: ${e.message}`));
        await sleep(5);
      }
      expect(await Promise.all(replies)).toEqual(Array.from({ length: 60 }, (_, i) => `n${i}`));
    });
  }
});
