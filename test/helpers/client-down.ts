/**
 * A Client on a private Redis with AOF, one task submitted, then Redis SIGKILLed: the start of
 * every test of a Client's calls through an outage. `server.start()` brings Redis back with what
 * it had written.
 */
import { Client } from '../../src/index.js';
import { startRedis, type RedisServer } from './redis-server.js';

export async function clientWithRedisKilled(cleanup: (() => Promise<unknown> | unknown)[]): Promise<{ server: RedisServer; c: Client }> {
  const server = await startRedis({ appendonly: true });
  cleanup.push(() => server.stop());
  const c = new Client({ redis: server.options() });
  cleanup.push(() => c.close());
  await c.submit('x', 1);
  await server.kill();
  return { server, c };
}
