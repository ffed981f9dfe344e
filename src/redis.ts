/**
 * Redis connections. Every component opens its own: a command connection (auto-pipelined, so
 * events published in the same tick go out in one write), and where needed a subscriber and a
 * blocking connection, since a blocked or subscribed connection can run nothing else.
 */
import { Redis, type RedisOptions as IORedisOptions } from 'ioredis';
import type { RedisConfig } from './config.js';
import { RedisUnavailableError } from './errors.js';

const lastError = new WeakMap<Redis, Error>();

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
  const redis = c.url ? new Redis(c.url, opts) : new Redis({ host: c.host, port: c.port, ...opts });
  redis.on('error', (e: Error) => lastError.set(redis, e));
  return redis;
}

/** Where a config points, for messages (no password). */
export function redisAddress(c: RedisConfig): string {
  if (c.url) {
    const u = new URL(c.url);
    u.password = '';
    u.username = '';
    return u.toString();
  }
  return `redis://${c.host}:${c.port}`;
}

/** A start-up failure that came from Redis, as one clear error naming the server and the cause. */
export function unavailable(c: RedisConfig, redis: Redis, e: unknown): unknown {
  if (!(e instanceof Error) || e.name === 'ListenError' || (e as { code?: string }).code?.startsWith('ERR_')) return e;
  const cause = lastError.get(redis)?.message ?? e.message;
  return new RedisUnavailableError(`cannot reach Redis at ${redisAddress(c)}: ${cause}`, e);
}
