/**
 * One worker of the demo (examples/demo.ts starts three of these as child processes).
 *
 * Configuration comes from the environment:
 *   REDIS_URL               Redis to use (default redis://127.0.0.1:6379)
 *   DEMO_KEY_PREFIX         key prefix shared by the whole demo (default none)
 *   DEMO_WORKER_NAME        name shown in the demo's output (default "worker")
 *   DEMO_WORKER_PORT        port of the worker's peer-ping server (default 0: any free port)
 *   DEMO_METRICS_PORT       port of its Prometheus metrics, http://127.0.0.1:port/metrics (default none)
 *   DEMO_CONCURRENCY        tasks run at once (default 4: examples/demo-settings.ts)
 *   DEMO_HEARTBEAT          heartbeatInterval in ms (default 300: examples/demo-settings.ts)
 *   TASK_SWARM_LOG          library log level (the demo sets "warn")
 *
 * It registers one task function, `render`, which "renders" a frame for `data.ms` ms, emits a
 * `progress` event `{pct}` about every 250 ms and gives up as soon as `task.signal` aborts.
 *
 * SIGTERM / SIGINT: `await worker.stop()` (running tasks get stopGrace to finish), then exit 0.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker, type Task } from '../src/index.js';
import { CONCURRENCY, HEARTBEAT_MS } from './demo-settings.js';

interface RenderData {
  frame: number;
  ms: number;
}

const name = process.env.DEMO_WORKER_NAME ?? 'worker';

function intEnv(key: string, fallback: number): number {
  const v = process.env[key];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n)) {
    process.stderr.write(`${name}: ${key} must be an integer, got ${JSON.stringify(v)}\n`);
    process.exit(2);
  }
  return n;
}

async function render(task: Task<RenderData>): Promise<{ frame: number; worker: string; attempt: number; checksum: string }> {
  const { frame, ms } = task.data;
  const steps = Math.max(1, Math.round(ms / 250));
  let checksum = frame * 2654435761;
  for (let i = 1; i <= steps; i++) {
    // Rejects with the abort reason when the task is stopped, reloaded or loses its lease.
    await sleep(ms / steps, undefined, { signal: task.signal });
    checksum = (checksum ^ (i * 40503)) >>> 0;
    task.emit('progress', { pct: Math.round((i / steps) * 100) });
  }
  return { frame, worker: name, attempt: task.attempt, checksum: checksum.toString(16) };
}

const worker = new Worker({
  host: '127.0.0.1',
  port: intEnv('DEMO_WORKER_PORT', 0),
  ...(process.env.DEMO_METRICS_PORT ? { metricsPort: intEnv('DEMO_METRICS_PORT', 0) } : {}),
  concurrency: intEnv('DEMO_CONCURRENCY', CONCURRENCY),
  heartbeatInterval: intEnv('DEMO_HEARTBEAT', HEARTBEAT_MS),
  fetchTaskInterval: 500,
  // on Ctrl-C, tasks still running after 1 s go back to the queue
  stopGrace: 1000,
  redis: { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', keyPrefix: process.env.DEMO_KEY_PREFIX ?? '' },
});
worker.addTaskFunction('render', render);

let stopping = false;
async function shutdown(why: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  try {
    await worker.stop();
    process.exit(0);
  } catch (e) {
    process.stderr.write(`${name}: error while stopping (${why}): ${(e as Error).message}\n`);
    process.exit(1);
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
// Started by the demo with a pipe on stdin: when the demo dies without cleaning up (kill -9),
// the pipe closes and this worker stops instead of running on as an orphan.
if (process.env.DEMO_PARENT_PIPE === '1') {
  process.stdin.on('end', () => void shutdown('demo went away'));
  process.stdin.on('error', () => void shutdown('demo went away'));
  process.stdin.resume();
}

try {
  await worker.start();
} catch (e) {
  process.stderr.write(`${name}: cannot start: ${(e as Error).message}\n`);
  process.exit(1);
}
