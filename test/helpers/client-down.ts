/**
 * The starts of the tests of a Client's calls through an outage, and how they time its calls.
 */
import { Client } from '../../src/index.js';
import { startRedis, until, type RedisServer } from './redis-server.js';
import { startProxy, type TcpProxy } from './tcp-proxy.js';

type Cleanup = (() => Promise<unknown> | unknown)[];

/**
 * A Client on a private Redis with AOF, one task submitted, then Redis SIGKILLed.
 * `server.start()` brings Redis back with what it had written.
 */
export async function clientWithRedisKilled(cleanup: Cleanup): Promise<{ server: RedisServer; c: Client }> {
  const server = await startRedis({ appendonly: true });
  cleanup.push(() => server.stop());
  const c = new Client({ redis: server.options() });
  cleanup.push(() => c.close());
  await c.submit('x', 1);
  await server.kill();
  // (the client has seen its connection close: a call made before it does is written to the
  // dead socket, and rightly told it may still run, not refused. A CI run under load met it)
  const conn = (c as unknown as { redis: { status: string } }).redis;
  await until(() => conn.status !== 'ready', 'the client to see Redis gone', 5000, 5);
  return { server, c };
}

/** a Client reaching a private Redis through a proxy (which can drop, reset or hold the connection) */
export async function clientThroughProxy(cleanup: Cleanup): Promise<{ server: RedisServer; proxy: TcpProxy; c: Client }> {
  const server = await startRedis();
  cleanup.push(() => server.stop());
  const proxy = await startProxy('127.0.0.1', server.port);
  cleanup.push(() => proxy.close());
  const c = new Client({ redis: { ...server.options(), port: proxy.port } });
  cleanup.push(() => c.close());
  return { server, proxy, c };
}

/** how long a call took to settle, and how */
export async function timed<T>(call: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const t0 = performance.now();
  try {
    const value = await call;
    return { ms: performance.now() - t0, value };
  } catch (error) {
    return { ms: performance.now() - t0, error };
  }
}
