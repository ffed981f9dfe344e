/**
 * Reads made while the library is loaded again, after a call made before them: a pause before
 * stats() (several partitions), a cancel before wait(), a get made before close().
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

async function inReload(server: Awaited<ReturnType<typeof startRedis>>, c: Client, id: string): Promise<{ first: Promise<unknown> }> {
  const conn = (c as unknown as { redis: Connection }).redis;
  await server.client().function('FLUSH');
  const first = c.submit('f', 0, { id });
  for (let i = 0; i < 10_000 && !reloading(conn); i++) await new Promise((r) => setImmediate(r));
  expect(reloading(conn)).toBeDefined();
  return { first };
}

describe('reads made in a reload after a call made before them', () => {
  it('stats() over several partitions after a pause reads it paused', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const c = new Client({ redis: { ...server.options(), keyPrefix: '{s}:', partitions: Number(process.env.P ?? 3) } });
    cleanup.push(() => c.close());
    await c.submit('f', 0, { id: 'warm' });
    const { first } = await inReload(server, c, 'first');
    expect(reloading((c as unknown as { redis: Connection }).redis)).toBeDefined();
    const paused = c.pause();
    const stats = c.stats();
    const [, , s] = await Promise.all([first, paused, stats]);
    expect(s.paused).toBe(true);
  });

  it('wait() made after a cancel ends cancelled', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const c = new Client({ redis: server.options() });
    cleanup.push(() => c.close());
    await c.submit('f', 0, { id: 'x' });
    const { first } = await inReload(server, c, 'first');
    expect(reloading((c as unknown as { redis: Connection }).redis)).toBeDefined();
    const cancelled = c.cancel('x');
    const waited = c.wait('x', { timeout: 5000 });
    const [, r, info] = await Promise.all([first, cancelled, waited]);
    expect(r).toBe('cancelled');
    expect(info.outcome).toBe('cancelled');
  });

  it('a get made during a reload, then close(): the get answers', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const c = new Client({ redis: server.options() });
    await c.submit('f', 0, { id: 'x' });
    const { first } = await inReload(server, c, 'first');
    expect(reloading((c as unknown as { redis: Connection }).redis)).toBeDefined();
    const got = c.get('x');
    await new Promise((r) => setImmediate(r));
    const closed = c.close();
    const settled = await Promise.allSettled([first, got, closed]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    expect((settled[1] as PromiseFulfilledResult<{ state: string } | null>).value?.state).toBe('QUEUED');
  });
});
