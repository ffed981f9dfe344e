/**
 * Redis gone (its port refusing connections), then a server on its port that accepts and never
 * answers (a Redis hung as it starts, another service taking the port): the Client's calls are
 * refused, past its patience, with the cause of now, "connected, no answer to the handshake".
 * Before: with the cause of the outage's first seconds, "connect ECONNREFUSED", an error of
 * connections tried before, kept as the connection's last: it sent its reader to look for a
 * server not listening, where one listens and is silent.
 */
import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CLIENT_PATIENCE_MS } from '../src/client.js';
import { Client, RedisUnavailableError } from '../src/index.js';
import { startRedis } from './helpers/redis-server.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

describe('a Client whose Redis went away, then a silent server took its port', () => {
  it('its calls are refused saying the server is connected and silent, not that connections are refused', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const c = new Client({ redis: server.options() });
    cleanup.push(() => c.close());
    await c.submit('x', 0);

    await server.kill();
    // (connections refused for a while: ECONNREFUSED, the connection's last error)
    await new Promise((r) => setTimeout(r, 1500));
    const sockets = new Set<Socket>();
    const listener = createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
    });
    await new Promise<void>((resolve) => listener.listen(server.port, '127.0.0.1', () => resolve()));
    cleanup.push(
      () =>
        new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          listener.close(() => r());
        }),
    );
    await new Promise((r) => setTimeout(r, CLIENT_PATIENCE_MS));
    expect(sockets.size).toBeGreaterThan(0);

    const t0 = performance.now();
    const error = await c.get('some-id').catch((e: unknown) => e);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect((error as Error).message).toMatch(/unreachable for \d+\.\d s \(connected, no answer to the handshake\); nothing was sent$/);
    expect((error as Error).message).not.toContain('ECONNREFUSED');
  }, 40_000);
});
