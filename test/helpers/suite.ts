/**
 * The setup most integration files share: one private redis-server for the file, and a stack
 * of clean-ups (workers, monitors, clients) run after each test, last made first closed.
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { Redis } from 'ioredis';
import { startRedis, type RedisServer } from './redis-server.js';

/** Registers the hooks; `ready` receives the server and a client of it before the first test. */
export function redisPerFile(ready: (server: RedisServer, redis: Redis) => void): (() => Promise<unknown>)[] {
  const cleanup: (() => Promise<unknown>)[] = [];
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await startRedis();
    ready(server, server.client());
  });
  afterEach(async () => {
    while (cleanup.length) await cleanup.pop()!();
  });
  afterAll(async () => {
    await server?.stop();
  });
  return cleanup;
}
