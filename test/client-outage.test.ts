/**
 * A Client's calls through a Redis outage: a call made as Redis goes away waits for it (a restart
 * or a failover takes seconds) and succeeds when it is back; once Redis has been away for the
 * client's patience (CLIENT_PATIENCE_MS), a call fails at once, sending nothing, with a
 * RedisUnavailableError that names the server and the cause; a Redis that holds the connection
 * but never answers fails a call after that patience, saying it may still run. Either way the
 * client serves again as soon as Redis does. (Before: each call waited 10 to 21 s for an
 * ioredis error naming neither, and a call to a frozen Redis never settled.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CLIENT_PATIENCE_MS } from '../src/client.js';
import { Client, RedisUnavailableError } from '../src/index.js';
import { clientWithRedisKilled, timed } from './helpers/client-down.js';
import { startRedis, until } from './helpers/redis-server.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});


/** a client that has queued a task (`id`), its Redis then frozen (SIGSTOP: it holds the connection and answers nothing) */
async function clientWithRedisFrozen() {
  const server = await startRedis();
  cleanup.push(() => server.stop());
  const c = new Client({ redis: server.options() });
  cleanup.push(() => c.close());
  const id = await c.submit('x', 1);
  server.freeze();
  cleanup.push(() => server.thaw());
  return { server, c, id };
}

describe('a Client while Redis is away', () => {
  it('rides a short restart: a call made while Redis is down succeeds once it is back', async () => {
    const { server, c } = await clientWithRedisKilled(cleanup);
    const during = c.submit('x', 'during', { id: 'made-while-down' });
    await new Promise((r) => setTimeout(r, 1500));
    await server.start();
    expect(await during).toBe('made-while-down');
    expect(await c.get('made-while-down')).toMatchObject({ state: 'QUEUED' });
  });

  it('fails calls clearly once Redis has been away for its patience, at once and sending nothing, and serves again when it is back', async () => {
    const { server, c } = await clientWithRedisKilled(cleanup);

    // the first call waits for the reconnects, then names the server and the socket's error
    const first = await timed(c.submit('x', 'first', { id: 'first-while-down' }));
    expect(first.error).toBeInstanceOf(RedisUnavailableError);
    expect(first.error).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE' });
    expect((first.error as Error).message).toContain(`127.0.0.1:${server.port}`);
    expect((first.error as Error).message).toMatch(/ECONNREFUSED.*nothing was sent/);
    expect(first.ms).toBeLessThan(CLIENT_PATIENCE_MS + 5000);

    // past the patience: every kind of call fails at once, and says nothing was sent
    const calls: (() => Promise<unknown>)[] = [() => c.submit('x', 'later', { id: 'refused-while-down' }), () => c.get('any'), () => c.stats(), () => c.cancel('any'), () => c.deadLetters()];
    for (const call of calls) {
      const r = await timed(call());
      expect(r.error, String(call)).toBeInstanceOf(RedisUnavailableError);
      expect((r.error as Error).message).toMatch(/unreachable for \d+\.\d s .*nothing was sent/);
      expect(r.ms).toBeLessThan(1000);
    }

    // back: the client serves again, and the refused submit was never written
    await server.start();
    // (within the 1 s reconnect backoff, and the handshake, which the refusal must let through)
    const t0 = Date.now();
    let ok: string | undefined;
    while (!ok && Date.now() - t0 < 5000) ok = await c.submit('x', 'back').catch(() => new Promise<undefined>((r) => setTimeout(r, 100)));
    expect(ok).toBeTypeOf('string');
    // neither the refused submit nor the one that waited and failed was written, then or since
    expect(await c.get('refused-while-down')).toBeNull();
    expect(await c.get('first-while-down')).toBeNull();
  }, 40_000);

  it('fails a call to a Redis that never answers after its patience, saying it may still run; answers again once Redis does', async () => {
    const { server, c, id } = await clientWithRedisFrozen();
    const r = await timed(c.get(id));
    expect(r.error).toBeInstanceOf(RedisUnavailableError);
    expect((r.error as Error).message).toMatch(/no answer within \d+ s .*may still run/);
    expect(r.ms).toBeGreaterThanOrEqual(CLIENT_PATIENCE_MS - 100);
    expect(r.ms).toBeLessThan(CLIENT_PATIENCE_MS + 5000);
    server.thaw();
    // (a call made before Redis's first answer reaches the client is refused, nothing sent:
    // test/client-frozen-fails-fast.test.ts)
    expect(await until(() => c.get(id), 'Redis to answer again', 3000)).toMatchObject({ id, state: 'QUEUED' });
  }, 40_000);

  it('fails each call to a Redis that never answers after its own patience, one made while an earlier one waits too', async () => {
    // (the earlier call, failed, stays first in the connection's queue until Redis answers it:
    // the later one must not wait behind it for ever)
    const { server, c, id } = await clientWithRedisFrozen();
    const first = timed(c.get(id));
    await new Promise((r) => setTimeout(r, CLIENT_PATIENCE_MS / 2));
    const second = timed(c.get(id));
    const [a, b] = await Promise.all([first, second]);
    for (const r of [a, b]) {
      expect(r.error).toBeInstanceOf(RedisUnavailableError);
      expect((r.error as Error).message).toMatch(/may still run/);
      expect(r.ms).toBeLessThan(CLIENT_PATIENCE_MS + 5000);
    }
    server.thaw();
    expect(await until(() => c.get(id), 'Redis to answer again', 3000)).toMatchObject({ id, state: 'QUEUED' });
  }, 60_000);
});
