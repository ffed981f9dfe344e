/**
 * Calls made before close(), in the same turn, are answered: a get as a cancel is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

let one: RedisServer;
beforeAll(async () => {
  one = await startRedis();
}, 30_000);
afterAll(async () => {
  await one?.stop();
});

describe('calls made just before close()', () => {
  it('a get made before close() reads the task, as a cancel made before it cancels it', async () => {
    const c = new Client({ redis: { ...one.options(), keyPrefix: '{rbc}:' } });
    await c.submit('f', 0, { id: 'a' });
    await c.submit('f', 0, { id: 'b' });
    const got = c.get('a').then((t) => t?.state ?? 'none', (e: Error) => `${e.name}: ${e.message}`);
    const stats = c.stats().then((s) => s.queued, (e: Error) => `${e.name}: ${e.message}`);
    const cancelled = c.cancel('b').catch((e: Error) => `${e.name}: ${e.message}`);
    await c.close();
    expect([await got, await stats, await cancelled]).toEqual(['QUEUED', 2, 'cancelled']);
  }, 30_000);

  it("a client's first call, a get, made before close() reads the task", async () => {
    const w = new Client({ redis: { ...one.options(), keyPrefix: '{rbc2}:' } });
    await w.submit('f', 0, { id: 'a' });
    await w.close();
    const c = new Client({ redis: { ...one.options(), keyPrefix: '{rbc2}:' } });
    const got = c.get('a').then((t) => t?.state ?? 'none', (e: Error) => `${e.name}: ${e.message}`);
    await c.close();
    expect(await got).toBe('QUEUED');
  }, 30_000);
});
