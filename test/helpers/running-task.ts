/**
 * A task that runs for good on a worker process of its own (the worker fixture's `sleep`, two
 * minutes), for a test that cuts, kills or stalls what is around it; and a steady worker beside
 * it, whose heartbeats keep the swarm from reading as silent (Redis holds nothing itself then).
 * Each process is killed by the test's `cleanup`.
 */
import type { Client } from '../../src/index.js';
import { spawnWorker, type WorkerProcess } from './processes.js';

type Cleanup = (() => Promise<unknown>)[];

/** a worker on `redis` (a proxy's port, say), running a task `client` submitted: its id and the worker's address */
export async function startRunningTask(client: Client, redis: object, cleanup: Cleanup): Promise<{ worker: WorkerProcess; id: string; runner: string }> {
  const worker = await spawnWorker({ port: 0, redis, heartbeatInterval: 200 });
  cleanup.push(() => worker.kill('SIGKILL'));
  const id = await client.submit('sleep', { ms: 120_000 });
  await worker.waitFor(new RegExp(`^STARTED ${id} 1$`));
  return { worker, id, runner: (await client.get(id))!.worker! };
}

/** a worker on `redis` that heartbeats all along (of `functions` only, when given: it takes none of the others' tasks) */
export async function startSteadyWorker(redis: object, cleanup: Cleanup, functions?: string[]): Promise<WorkerProcess> {
  const steady = await spawnWorker({ port: 0, redis, heartbeatInterval: 200 }, [], functions);
  cleanup.push(() => steady.kill('SIGKILL'));
  return steady;
}
