/**
 * Reads made while the library is being loaded again (src/script-line.ts) keep their place among
 * the calls made around them: each takes its place among the calls the reload holds, after the
 * calls made before it (sent, or held a step after they were made) and before those made after.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, type ClientOptions } from '../src/index.js';
import type { Connection } from '../src/redis.js';
import { reloading } from '../src/script-line.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

/** a started client on a redis-server of its own (`closed`: left to the test to close) */
async function started(redis: (server: RedisServer) => ClientOptions['redis'] = (s) => s.options(), closed = true): Promise<{ server: RedisServer; c: Client }> {
  const server = await startRedis();
  cleanup.push(() => server.stop());
  const c = new Client({ redis: redis(server) });
  if (closed) cleanup.push(() => c.close());
  await c.submit('f', 0, { id: 'warm' });
  return { server, c };
}

/** FUNCTION FLUSH, then a submit that finds the library missing: resolves once its reload is under way */
async function inReload(server: RedisServer, c: Client, id: string): Promise<{ first: Promise<unknown> }> {
  const conn = (c as unknown as { redis: Connection }).redis;
  await server.client().function('FLUSH');
  const first = c.submit('f', 0, { id });
  for (let i = 0; i < 10_000 && !reloading(conn); i++) await new Promise((r) => setImmediate(r));
  expect(reloading(conn)).toBeDefined();
  return { first };
}

describe('a read made during a reload', () => {
  it('a get made between a held submit and a held cancel reads the task queued', async () => {
    const { server, c } = await started();
    const seen: unknown[] = [];
    for (let round = 0; round < 5; round++) {
      const { first } = await inReload(server, c, `first${round}`);
      const made = [c.submit('f', 1, { id: `x${round}` }), c.get(`x${round}`), c.cancel(`x${round}`)] as const;
      const [, id, info, cancelled] = await Promise.all([first, ...made]);
      expect([id, cancelled]).toEqual([`x${round}`, 'cancelled']);
      seen.push(info?.state);
    }
    expect(seen).toEqual(Array(5).fill('QUEUED'));
  });

  it('a get made after a held cancel reads the task cancelled', async () => {
    const { server, c } = await started();
    const seen: unknown[] = [];
    for (let round = 0; round < 3; round++) {
      await c.submit('f', 0, { id: `x${round}` });
      const { first } = await inReload(server, c, `first${round}`);
      const cancelled = c.cancel(`x${round}`);
      const info = c.get(`x${round}`);
      const [, r, i] = await Promise.all([first, cancelled, info]);
      expect(r).toBe('cancelled');
      seen.push(i?.state);
    }
    expect(seen).toEqual(Array(3).fill('END'));
  });

  it('stats() over several partitions after a pause reads it paused', async () => {
    const { server, c } = await started((s) => ({ ...s.options(), keyPrefix: '{s}:', partitions: 3 }));
    const { first } = await inReload(server, c, 'first');
    const [, , s] = await Promise.all([first, c.pause(), c.stats()]);
    expect(s.paused).toBe(true);
  });

  it('wait() made after a cancel ends cancelled', async () => {
    const { server, c } = await started();
    await c.submit('f', 0, { id: 'x' });
    const { first } = await inReload(server, c, 'first');
    const [, r, info] = await Promise.all([first, c.cancel('x'), c.wait('x', { timeout: 5000 })]);
    expect(r).toBe('cancelled');
    expect(info.outcome).toBe('cancelled');
  });

  it('a get, then close(): the get answers', async () => {
    const { server, c } = await started(undefined, false);
    await c.submit('f', 0, { id: 'x' });
    const { first } = await inReload(server, c, 'first');
    const got = c.get('x');
    await new Promise((r) => setImmediate(r));
    const settled = await Promise.allSettled([first, got, c.close()]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    expect((settled[1] as PromiseFulfilledResult<{ state: string } | null>).value?.state).toBe('QUEUED');
  });
});
