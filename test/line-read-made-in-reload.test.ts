/**
 * A read made while the library is being loaded again keeps its place among the calls made
 * around it: a get made after a submit and before a cancel of that task, all three made while a
 * reload is under way (the submit and the cancel held), reads the task queued, not cancelled.
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

describe('a read made during a reload', () => {
  it('a get made between a held submit and a held cancel reads the task queued', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const c = new Client({ redis: server.options() });
    cleanup.push(() => c.close());
    const conn = (c as unknown as { redis: Connection }).redis;
    await c.submit('f', 0, { id: 'warm' });
    const seen: unknown[] = [];
    for (let round = 0; round < 5; round++) {
      await server.client().function('FLUSH');
      // a submit finds the library missing: a reload begins
      const first = c.submit('f', 0, { id: `first${round}` });
      for (let i = 0; i < 10_000 && !reloading(conn); i++) await new Promise((r) => setImmediate(r));
      expect(reloading(conn)).toBeDefined();
      // made while it is under way, in this order
      const made = [c.submit('f', 1, { id: `x${round}` }), c.get(`x${round}`), c.cancel(`x${round}`)] as const;
      const [, id, info, cancelled] = await Promise.all([first, ...made]);
      expect([id, cancelled]).toEqual([`x${round}`, 'cancelled']);
      seen.push(info?.state);
    }
    expect(seen).toEqual(Array(5).fill('QUEUED'));
  });
});
