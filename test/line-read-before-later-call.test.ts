/**
 * A read made between two of a client's calls sees the first and not the second: a get made
 * after a submit and before a cancel of that task reads it queued. Across a library Redis lost
 * mid-life too, where the submit and the cancel found it missing and are sent again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { startRedis } from './helpers/redis-server.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

describe('a get between a submit and a cancel of its task', () => {
  for (const flushed of [false, true]) {
    it(`reads the task queued, not cancelled${flushed ? ', the library lost just before' : ''}`, async () => {
      const server = await startRedis();
      cleanup.push(() => server.stop());
      const c = new Client({ redis: server.options() });
      cleanup.push(() => c.close());
      await c.submit('f', 0, { id: 'warm' });
      if (flushed) await server.client().function('FLUSH');
      const made = [c.submit('f', 1, { id: 'x' }), c.get('x'), c.cancel('x')] as const;
      const [id, info, cancelled] = await Promise.all(made);
      expect([id, cancelled]).toEqual(['x', 'cancelled']);
      expect(info).toMatchObject({ id: 'x', state: 'QUEUED' });
    });
  }
});
