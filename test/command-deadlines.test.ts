/**
 * The worker's command connection gives each call a deadline (src/command-deadlines.ts: one
 * timer for the connection, not one per call): a call Redis does not answer fails with "Command
 * timed out" once its own deadline is past, whether it was written to a link gone silent or is
 * waiting for a connection, and a call made later fails at its own deadline, not at the first
 * one's. A connection given none of that waits for ever, which is what it guards against.
 */
import { describe, expect, it } from 'vitest';
import { commandDeadlines } from '../src/command-deadlines.js';
import { connect } from '../src/redis.js';
import { resolveRedisConfig } from '../src/config.js';
import { startProxy, type TcpProxy } from './helpers/tcp-proxy.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

const TIMEOUT = 400;

async function through(proxy: TcpProxy) {
  const redis = connect(resolveRedisConfig({ host: '127.0.0.1', port: proxy.port }), 'command', 'deadlines-test', { enableAutoPipelining: false });
  redis.on('error', () => {});
  const stop = commandDeadlines(redis, TIMEOUT);
  cleanup.push(async () => {
    stop();
    redis.disconnect();
  });
  await redis.ping();
  return redis;
}

/** how long `call` took to settle, and how */
async function settle(call: Promise<unknown>): Promise<{ ms: number; error?: string; value?: unknown }> {
  const t0 = performance.now();
  try {
    const value = await call;
    return { ms: performance.now() - t0, value };
  } catch (e) {
    return { ms: performance.now() - t0, error: (e as Error).message };
  }
}

describe('command deadlines', () => {
  it('a call written to a silent link fails at its deadline; one made later, at its own', async () => {
    const proxy = await startProxy('127.0.0.1', server.port);
    cleanup.push(() => proxy.close());
    const redis = await through(proxy);
    proxy.partition();
    const first = settle(redis.get('a'));
    await new Promise((r) => setTimeout(r, 250));
    const second = settle(redis.get('b'));
    const [a, b] = await Promise.all([first, second]);
    expect(a.error).toBe('Command timed out');
    expect(b.error).toBe('Command timed out');
    // each at its own deadline (timers fire late, never early; late by up to a second on a busy machine)
    expect(a.ms).toBeGreaterThanOrEqual(TIMEOUT - 5);
    expect(a.ms).toBeLessThan(TIMEOUT + 1000);
    expect(b.ms).toBeGreaterThanOrEqual(TIMEOUT - 5);
    expect(b.ms).toBeLessThan(TIMEOUT + 1000);

    // back: calls are answered again, and a later silence is caught as the first was
    proxy.heal();
    expect(await redis.set('c', '1')).toBe('OK');
    proxy.partition();
    expect((await settle(redis.get('c'))).error).toBe('Command timed out');
  });

  it('a call waiting for a connection fails at its deadline too', async () => {
    const proxy = await startProxy('127.0.0.1', server.port);
    cleanup.push(() => proxy.close());
    const redis = await through(proxy);
    // (a link gone silent, and the connection made again over it: the new one never turns ready)
    proxy.partition();
    redis.disconnect(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(redis.status).not.toBe('ready');
    const r = await settle(redis.get('a'));
    expect(r.error).toBe('Command timed out');
    expect(r.ms).toBeGreaterThanOrEqual(TIMEOUT - 5);
    expect(r.ms).toBeLessThan(TIMEOUT + 1000);
  });

  it('calls answered in time are not failed, however many pass through', async () => {
    const proxy = await startProxy('127.0.0.1', server.port);
    cleanup.push(() => proxy.close());
    const redis = await through(proxy);
    proxy.delay(TIMEOUT / 4);
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < TIMEOUT * 3) {
      expect(await redis.incr('n')).toBe(++n);
    }
    expect(n).toBeGreaterThan(3);
  });

  it('many calls on their way at once: answered in time none fails; unanswered each fails at its deadline', async () => {
    const proxy = await startProxy('127.0.0.1', server.port);
    cleanup.push(() => proxy.close());
    const redis = await through(proxy);
    // waves that overlap (the list of calls on their way compacted while some of it waits)
    for (let wave = 0; wave < 3; wave++) {
      const replies = await Promise.all(Array.from({ length: 1000 }, (_, i) => redis.incr(`n${i % 7}`)));
      expect(replies).toHaveLength(1000);
    }
    proxy.partition();
    const t0 = performance.now();
    const all = await Promise.allSettled(Array.from({ length: 1000 }, () => redis.get('a')));
    const ms = performance.now() - t0;
    expect(all.every((r) => r.status === 'rejected' && (r.reason as Error).message === 'Command timed out')).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT - 5);
    expect(ms).toBeLessThan(TIMEOUT + 1000);
  });
});
