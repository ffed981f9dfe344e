/**
 * close() with reads, a wait and a submit made before it, on a Redis frozen (SIGSTOP) with the
 * connection open: close() ends in bounded time, and each call settles.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { within } from '../src/within.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

let server: RedisServer | undefined;
afterEach(async () => {
  server?.thaw();
  await server?.stop();
  server = undefined;
});

describe('close() on a frozen Redis', () => {
  for (const partitions of [1, 3]) {
    it(`ends in bounded time, the calls made before it settled (${partitions} partition(s))`, { timeout: 30_000 }, async () => {
      server = await startRedis();
      const c = new Client({ redis: { ...server.options(), keyPrefix: '{cf}:', partitions } });
      await c.submit('f', 0, { id: 'x' });
      const waiting = c.wait('x', { timeout: 60_000 }).then(() => 'resolved', () => 'rejected');
      await new Promise((r) => setTimeout(r, 200));
      server.freeze();
      const calls = [c.get('x'), c.stats(), c.limits(), c.control('x', { event_name: 'e', event: 1 }), c.submit('f', 1), c.pause()].map((p) =>
        (p as Promise<unknown>).then(() => 'resolved', () => 'rejected'),
      );
      const started = Date.now();
      const closed = (await within(10_000, c.close().then(() => 'closed'))) ?? 'pending after 10 s';
      const took = Date.now() - started;
      const settled = (await within(5_000, Promise.all([...calls, waiting]))) ?? 'calls pending 5 s after close';
      expect([closed, took < 8_000]).toEqual(['closed', true]);
      expect(settled).not.toBe('calls pending 5 s after close');
    });
  }
});
