/** Worker registry effects: `workers` membership (register.lua) and the peer list. */
import type { Redis } from 'ioredis';
import type { Keys } from '../keys.js';
import { runScript } from '../scripts.js';

/** Returns the epoch of Redis's data (see renew.lua). */
export async function registerWorker(redis: Redis, keys: Keys, worker: string, heartbeatInterval = 1000): Promise<string> {
  const [, epoch] = (await runScript(redis, 'register', [keys.workerSet, keys.workerSeen, keys.epoch], [worker, 'add', heartbeatInterval])) as [number, string];
  return epoch;
}

export async function deregisterWorker(redis: Redis, keys: Keys, worker: string): Promise<void> {
  await runScript(redis, 'register', [keys.workerSet, keys.workerSeen, keys.epoch], [worker, 'remove']);
}

export async function listWorkers(redis: Redis, keys: Keys): Promise<string[]> {
  return (await redis.smembers(keys.workerSet)).sort();
}
