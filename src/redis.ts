/**
 * Redis connections. Every component opens its own: a command connection (auto-pipelined, so
 * events published in the same tick go out in one write), and where needed a subscriber and a
 * blocking connection, since a blocked or subscribed connection can run nothing else.
 */
import { Redis, type RedisOptions as IORedisOptions } from 'ioredis';
import type { RedisConfig } from './config.js';

export type ConnectionRole = 'command' | 'subscriber' | 'blocking';

export function connect(c: RedisConfig, role: ConnectionRole, name: string, extra: IORedisOptions = {}): Redis {
  const opts: IORedisOptions = {
    connectionName: `task-swarm:${name}:${role}`,
    username: c.username,
    password: c.password,
    db: c.db,
    enableAutoPipelining: role === 'command',
    // Reconnect forever with a capped backoff: a task runner outlives Redis restarts.
    retryStrategy: (times) => Math.min(50 * times, 1000),
    // Commands issued while Redis is away wait for it (bounded per command), rather than fail
    // at once; the machines decide what to do while it is away.
    maxRetriesPerRequest: role === 'blocking' ? null : 2,
    lazyConnect: true,
    ...extra,
  };
  return c.url ? new Redis(c.url, opts) : new Redis({ host: c.host, port: c.port, ...opts });
}
