/**
 * A Client whose Redis stops answering after the connection was ready, and closes nothing: Redis
 * frozen (SIGSTOP), or a network that drops packets. The first call written waits the client's
 * patience and fails saying it may still run; every call made after that, while nothing has
 * answered since, fails at once saying nothing was sent, and is not run when Redis wakes. The
 * first answer ends it: calls run again as soon as Redis does. (Before: each call waited its own
 * whole patience, 10 s per call for as long as the silence lasted.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CLIENT_PATIENCE_MS } from '../src/client.js';
import { Client, RedisUnavailableError } from '../src/index.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';
import { clientThroughProxy, timed } from './helpers/client-down.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/** `call` made again every 20 ms until it succeeds; how long that took */
async function firstSuccess<T>(call: () => Promise<T>, withinMs: number): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  for (;;) {
    try {
      return { ms: performance.now() - t0, value: await call() };
    } catch (error) {
      if (performance.now() - t0 > withinMs) throw error;
      await sleep(20);
    }
  }
}

/**
 * The calls of one silence: the first, written, waits its patience; five made one after another
 * once it failed each fail at once, saying nothing was sent; a read too. Then `wake()`: calls
 * run again at once, the refused ones were never run, the first one was.
 */
async function silence(c: Client, server: RedisServer, fall: () => void, wake: () => void): Promise<void> {
  await c.submit('nobody-serves-this', 0, { id: 'before' });
  fall();
  const first = await timed(c.submit('nobody-serves-this', 1, { id: 'written-first' }));
  expect(first.error).toBeInstanceOf(RedisUnavailableError);
  expect((first.error as Error).message).toMatch(/may still run/);
  expect(first.ms).toBeGreaterThanOrEqual(CLIENT_PATIENCE_MS - 100);

  const after: { ms: number; error?: unknown }[] = [];
  for (let i = 0; i < 5; i++) after.push(await timed(c.submit('nobody-serves-this', 2, { id: `refused-${i}` })));
  after.push(await timed(c.get('before')));
  for (const a of after) {
    expect(a.error).toBeInstanceOf(RedisUnavailableError);
    expect((a.error as Error).message).toMatch(/no answer for \d+\.\d s .*nothing was sent/);
    expect(a.ms).toBeLessThan(500);
  }

  wake();
  const back = await firstSuccess(() => c.submit('nobody-serves-this', 3, { id: 'after-wake' }), 5000);
  expect(back.value).toBe('after-wake');
  expect(back.ms).toBeLessThan(2000);
  const redis = server.client();
  for (let i = 0; i < 5; i++) expect(await redis.exists(`${server.options().keyPrefix}task:refused-${i}`)).toBe(0);
  expect(await c.get('written-first')).toMatchObject({ state: 'QUEUED' });
  expect(await c.get('before')).toMatchObject({ state: 'QUEUED' });
}

describe('a Client whose Redis goes silent with the connection open', () => {
  it('Redis frozen: the first call waits its patience, the next ones fail at once, nothing sent, until Redis answers', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const c = new Client({ redis: server.options() });
    cleanup.push(() => c.close());
    cleanup.push(() => server.thaw());
    await silence(
      c,
      server,
      () => server.freeze(),
      () => server.thaw(),
    );
  }, 40_000);

  it('a network that drops packets: the same, and calls run again once it carries them', async () => {
    const { server, proxy, c } = await clientThroughProxy(cleanup);
    await silence(
      c,
      server,
      () => proxy.partition(),
      () => proxy.heal(),
    );
  }, 40_000);

  it('a call made before the first one failed still waits its own patience, and runs if Redis wakes within it', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const c = new Client({ redis: server.options() });
    cleanup.push(() => c.close());
    cleanup.push(() => server.thaw());
    await c.submit('nobody-serves-this', 0);
    server.freeze();
    const first = timed(c.submit('nobody-serves-this', 1, { id: 'first' }));
    await sleep(CLIENT_PATIENCE_MS - 2000);
    const second = timed(c.submit('nobody-serves-this', 2, { id: 'second' }));
    expect((await first).error).toBeInstanceOf(RedisUnavailableError);
    await sleep(500);
    server.thaw();
    expect((await second).value).toBe('second');
  }, 40_000);
});
