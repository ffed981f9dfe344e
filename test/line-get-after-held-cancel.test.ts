/**
 * A get made after a cancel, both while the library is loaded again (the cancel held), reads
 * the task cancelled: the get's place among the held calls comes after the cancel's.
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

describe('a get made after a held cancel', () => {
  it('reads the task cancelled', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const c = new Client({ redis: server.options() });
    cleanup.push(() => c.close());
    const conn = (c as unknown as { redis: Connection }).redis;
    await c.submit('f', 0, { id: 'warm' });
    const seen: unknown[] = [];
    for (let round = 0; round < 3; round++) {
      await c.submit('f', 0, { id: `x${round}` });
      await server.client().function('FLUSH');
      const first = c.submit('f', 0, { id: `first${round}` });
      for (let i = 0; i < 10_000 && !reloading(conn); i++) await new Promise((r) => setImmediate(r));
      expect(reloading(conn)).toBeDefined();
      // made in this order while the reload is under way
      const cancelled = c.cancel(`x${round}`);
      const info = c.get(`x${round}`);
      const [, r, i] = await Promise.all([first, cancelled, info]);
      expect(r).toBe('cancelled');
      seen.push(i?.state);
    }
    expect(seen).toEqual(Array(3).fill('END'));
  });
});
