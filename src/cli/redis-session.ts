/**
 * A command's time with Redis: checked once up front (fail fast, with one clear line, when it
 * is not there), then a Client for the command, closed however the command ends.
 */
import { Client, type TaskInfo } from '../client.js';
import { resolveRedisConfig, type RedisOptions } from '../config.js';
import { TaskNotFoundError, TaskSwarmError } from '../errors.js';
import { probeOnce, redisAddress, tlsHint } from '../redis.js';
import { within } from '../within.js';
import { redact } from './connection.js';
import type { Invocation } from './command-spec.js';
import { RuntimeError } from './errors.js';
import { escapeControls } from './format.js';

/** One ping, no reconnects: a Redis that is not there is one line naming it. */
export async function checkRedis(redis: RedisOptions): Promise<void> {
  const config = resolveRedisConfig(redis);
  try {
    await probeOnce(config, 3000);
  } catch (e) {
    if (e instanceof TaskSwarmError) throw e; // the server's version: its message names the server
    const err = e as Error;
    // (OpenSSL's messages end in a newline: the line printed would stop there)
    const msg = (err as NodeJS.ErrnoException).code === 'ETIMEDOUT' ? 'connection timed out' : err.message.trim().replace(/\s*\n\s*/g, ' ');
    throw new RuntimeError(`cannot reach Redis at ${escapeControls(config.url !== undefined ? redact(config.url) : redisAddress(config))}: ${msg}${tlsHint(config, msg)}`);
  }
}

export async function withClient<T>(redis: RedisOptions, fn: (client: Client) => Promise<T>): Promise<T> {
  await checkRedis(redis);
  const client = new Client({ redis });
  try {
    return await fn(client);
  } finally {
    await within(1000, client.close());
  }
}

/** The run of a command that works with Redis from its start: `run` gets the command's Client (withClient). */
export function runWithClient(run: (client: Client, inv: Invocation) => Promise<number>): (inv: Invocation) => Promise<number> {
  return (inv) => withClient(inv.redis, (client) => run(client, inv));
}

export async function requireTask(client: Client, id: string): Promise<TaskInfo> {
  const t = await client.get(id);
  if (!t) throw new TaskNotFoundError(id);
  return t;
}
