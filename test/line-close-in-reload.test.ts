/**
 * close() made while the library is loaded again: the calls made before it, held by the reload
 * (a cancel), are sent before its QUIT and answered, as close() promises for a cancel made just
 * before it; none is cut off by the QUIT.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import type { Connection } from '../src/redis.js';
import { reloading } from '../src/script-line.js';
import { startRedis } from './helpers/redis-server.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

describe('close() during a reload', () => {
  it('a cancel made just before it is sent and answered', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const o = server.options();
    const c = new Client({ redis: o });
    const conn = (c as unknown as { redis: Connection }).redis;
    await c.submit('f', 0, { id: 'warm' });
    await c.submit('f', 0, { id: 'warm2' });
    await server.client().function('FLUSH');
    // (a cancel finds the library missing: no submit in flight for close() to wait for)
    const first = c.cancel('warm2');
    for (let i = 0; i < 10_000 && !reloading(conn); i++) await new Promise((r) => setImmediate(r));
    expect(reloading(conn)).toBeDefined();
    const cancelled = c.cancel('warm');
    await c.close();
    const settled = await Promise.allSettled([first, cancelled]);
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : String(s.reason)))).toEqual(['cancelled', 'cancelled']);
    const other = new Client({ redis: o });
    cleanup.push(() => other.close());
    expect(await other.get('warm')).toMatchObject({ outcome: 'cancelled' });
  });
});
