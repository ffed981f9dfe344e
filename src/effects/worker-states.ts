/**
 * Each worker's machine state in Redis (`workers:states`), so a dashboard in another process can
 * draw it. One HSET per change of the worker machine's state value (a handful a minute on a
 * steady worker), never per task.
 */
import type { Connection } from '../redis.js';
import type { Keys } from '../keys.js';

export interface WorkerStateRecord {
  /** the worker machine's state value: a state name or nested { parent: child } */
  state: unknown;
  /** ms since epoch (the worker's clock) of the change */
  at: number;
}

export async function writeWorkerState(redis: Connection, keys: Keys, worker: string, state: unknown): Promise<void> {
  await redis.hset(keys.workerStates, worker, JSON.stringify({ state, at: Date.now() } satisfies WorkerStateRecord));
}

/** worker -> its last recorded state; a field that is not what a worker writes is left out */
export async function readWorkerStates(redis: Connection, keys: Keys): Promise<Map<string, WorkerStateRecord>> {
  const out = new Map<string, WorkerStateRecord>();
  for (const [worker, raw] of Object.entries(await redis.hgetall(keys.workerStates))) {
    try {
      const v = JSON.parse(raw) as Partial<WorkerStateRecord>;
      if (v && typeof v === 'object' && typeof v.at === 'number' && v.state !== undefined) out.set(worker, { state: v.state, at: v.at });
    } catch {
      // hand-written junk: not shown
    }
  }
  return out;
}
