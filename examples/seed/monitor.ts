/**
 * Seed-style monitor: watches the RUNNING tasks and requeues those whose worker stopped
 * heartbeating (killed, crashed, cut off). Run it with
 *
 *   node --import tsx examples/seed/monitor.ts
 *
 * Redis: REDIS_URL, or 127.0.0.1:6379. Ctrl-C (or SIGTERM) stops it, exit 0.
 */
import { Monitor, type RedisOptions } from '../../src/index.js';

const REDIS_CONFIG: RedisOptions = {
  ...(process.env.REDIS_URL ? { url: process.env.REDIS_URL } : { host: '127.0.0.1', port: 6379 }),
  newQueue: 'new-task',
  taskSet: 'tasks',
  taskPrefix: 'task-',
  endQueue: 'end-task',
};

const monitor = new Monitor({
  redis: REDIS_CONFIG,
  // Shorter than the defaults (30000 / 15000) so a `kill -9`ed worker's task is requeued soon.
  taskTimeout: 10000,
  checkTaskInterval: 5000,
  // Optional + defaults:
  fetchWorkerInterval: 15000,
  partitionPercentage: 60,
});

monitor.on('sweep', (r: { requeued: string[]; parked: string[] }) => {
  if (r.requeued.length) console.log(`monitor: requeued ${r.requeued.join(', ')}`);
  if (r.parked.length) console.log(`monitor: parked in the dead-letter list (maxAttempts): ${r.parked.join(', ')}`);
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) process.exit(1);
  stopping = true;
  console.log(`monitor: ${signal}, stopping`);
  await monitor.stop();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

try {
  await monitor.start();
} catch (e) {
  console.error(`monitor: cannot start: ${(e as Error).message}`);
  process.exit(1);
}
console.log(`monitor: running (taskTimeout ${monitor.config.taskTimeout} ms, checkTaskInterval ${monitor.config.checkTaskInterval} ms)`);
