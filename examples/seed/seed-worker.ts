/**
 * The seed's worker script, shared by worker1.ts and worker2.ts (which differ only in name and
 * port): a worker that runs tasks of the function `test`.
 *
 * Redis: REDIS_URL, or 127.0.0.1:6379. Ctrl-C (or SIGTERM) stops it gracefully: it takes no new
 * task, lets running ones finish (stopGrace), hands the rest back to the queue, then exits 0. A
 * second signal exits at once; the monitor then requeues what it was running.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker, type RedisOptions, type Task } from '../../src/index.js';

// The seed's shared Redis config; the key names shown are the defaults.
const REDIS_CONFIG: RedisOptions = {
  ...(process.env.REDIS_URL ? { url: process.env.REDIS_URL } : { host: '127.0.0.1', port: 6379 }),
  newQueue: 'new-task',
  taskSet: 'tasks',
  taskPrefix: 'task-',
  endQueue: 'end-task',
};

/** Start one seed-style worker named `NAME`, listening for peer pings on 127.0.0.1:`PORT`. */
export async function runSeedWorker(NAME: string, PORT: number): Promise<void> {
  const worker = new Worker({
    host: '127.0.0.1',
    port: PORT,
    redis: REDIS_CONFIG,
    // Optional + defaults:
    fetchTaskInterval: 2000,
    fetchWorkerInterval: 15000,
    partitionPercentage: 60,
  });

  /**
   * `test`: emits `started`, then a `tick` event every second for five seconds, and answers a
   * custom control event `{"event_name":"ping","event":...}` with a `pong` event. A `stop`
   * control message aborts `task.signal`: the sleep rejects and the task ends as `stopped`.
   */
  worker.addTaskFunction('test', async (task: Task) => {
    task.emit('started', { worker: NAME, attempt: task.attempt, data: task.data });
    task.on('ping', (payload) => task.emit('pong', { worker: NAME, payload }));
    for (let i = 1; i <= 5; i++) {
      await sleep(1000, undefined, { signal: task.signal });
      task.emit('tick', { i, of: 5 });
    }
    return { worker: NAME, ticks: 5 };
  });

  let stopping = false;
  async function shutdown(signal: string): Promise<void> {
    if (stopping) {
      console.log(`${NAME}: ${signal} again, exiting at once`);
      process.exit(1);
    }
    stopping = true;
    console.log(`${NAME}: ${signal}, stopping (again to exit at once)`);
    await worker.stop();
    process.exit(0);
  }
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  try {
    await worker.start();
  } catch (e) {
    console.error(`${NAME}: cannot start: ${(e as Error).message}`);
    process.exit(1);
  }
  console.log(`${NAME}: running on ${worker.address}; waiting for tasks on "${REDIS_CONFIG.newQueue}"`);
}
