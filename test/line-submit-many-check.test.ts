/**
 * submitMany over several batches checks the ids its caller chose first (one read), so that a
 * list holding a used id writes nothing (docs/semantics.md, "Bulk submit"). An id used by a
 * submit the same client made just before it is used: across a library Redis lost mid-life too,
 * where that submit's script is sent again once the library is loaded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, DuplicateTaskError } from '../src/index.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function client(): Promise<{ server: RedisServer; c: Client }> {
  const server = await startRedis();
  cleanup.push(() => server.stop());
  const c = new Client({ redis: server.options() });
  cleanup.push(() => c.close());
  await c.submit('f', 0, { id: 'warm' });
  return { server, c };
}

const list = (n: number) => [...Array.from({ length: n }, (_, i) => ({ fn: 'f', data: i, options: { id: `m${i}` } })), { fn: 'f', data: 'last', options: { id: 'dup' } }];

describe('submitMany after a submit of one of its ids', () => {
  for (const flushed of [false, true]) {
    it(`is refused whole, nothing written${flushed ? ', the library lost just before' : ''}`, async () => {
      const { server, c } = await client();
      if (flushed) await server.client().function('FLUSH');
      const one = c.submit('f', 'first', { id: 'dup' });
      const many = c.submitMany(list(1500));
      await expect(one).resolves.toBe('dup');
      await expect(many).rejects.toBeInstanceOf(DuplicateTaskError);
      expect(await c.get('m0')).toBeNull();
      expect((await c.stats()).queued).toBe(2);
    });
  }
});
