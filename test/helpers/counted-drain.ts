/**
 * A Redis of its own with `n` no-op tasks of `quick` queued, and one Worker (with `options`)
 * started on them that counts each task's runs: what the tests that drain through a fault
 * (Redis frozen, a worker stopped) start from.
 */
import { Client, Worker } from '../../src/index.js';
import { startRedis, type RedisServer } from './redis-server.js';
import { counting, submitInBatches } from './task-batches.js';

export async function countedDrain(
  cleanup: (() => unknown)[],
  n: number,
  options: Omit<ConstructorParameters<typeof Worker>[0], 'redis'>,
): Promise<{ server: RedisServer; o: ReturnType<RedisServer['options']>; w: Worker; runs: Map<string, number>; ids: string[] }> {
  const server = await startRedis();
  cleanup.push(() => server.stop());
  const o = server.options();
  const runs = new Map<string, number>();
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  const ids = await submitInBatches(c, 'quick', n);
  const w = new Worker({ ...options, redis: o });
  w.addTaskFunction('quick', counting(runs, [], 0));
  cleanup.push(() => w.stop());
  await w.start();
  return { server, o, w, runs, ids };
}
