/**
 * The workers as the dashboard shows them: listed ones (the `workers` set, their last heartbeat
 * in the seen zset, their functions) and those that left it, by the machine states they wrote
 * (src/effects/worker-states.ts); with the tasks each runs, from the lease index.
 */
import type { Connection } from '../redis.js';
import type { Keys } from '../keys.js';
import { readWorkerStates } from '../effects/worker-states.js';

export interface WorkerView {
  address: string;
  /**
   * alive: listed and heard from within the dead-after time (the monitors' taskTimeout); dead:
   * silent longer, or taken out of the list by a monitor; stopped: left the list on its way out
   */
  health: 'alive' | 'dead' | 'stopped';
  /** the worker machine's state value as it last wrote it */
  state?: unknown;
  stateAt?: number;
  /** Redis ms of its last heartbeat */
  seen?: number;
  functions: string[];
  /** ids of the tasks it runs (from the lease index) */
  tasks: string[];
}

/** a listed worker silent this long (ms) is shown dead, when no monitor says its taskTimeout */
const DEFAULT_DEAD_AFTER = 10_000;

export async function readWorkers(redis: Connection, keys: Keys): Promise<{ now: number; deadAfter: number; workers: WorkerView[] }> {
  const replies = (await redis.multi().smembers(keys.workerSet).zrange(keys.workerSeen, 0, -1, 'WITHSCORES').hgetall(keys.workerFunctions).hget(keys.outage, 'timeout').time().exec()) ?? [];
  const [listed, seenFlat, fnHash, timeout, time] = replies.map(([e, v]) => (e ? null : v)) as [string[] | null, string[] | null, Record<string, string> | null, string | null, [string, string] | null];
  const now = time ? Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000) : Date.now();
  const deadAfter = Number(timeout) > 0 ? Number(timeout) : DEFAULT_DEAD_AFTER;
  const seen = new Map<string, number>();
  for (let i = 0; seenFlat && i < seenFlat.length; i += 2) seen.set(seenFlat[i]!, Number(seenFlat[i + 1]));
  const states = await readWorkerStates(redis, keys);
  const tasks = await tasksByWorker(redis, keys);
  const names = new Set([...(listed ?? []), ...states.keys()]);
  const workers = [...names].sort().map((address): WorkerView => {
    const isListed = listed?.includes(address) ?? false;
    const s = seen.get(address);
    const last = states.get(address)?.state;
    const health = !isListed ? (last === 'deregistering' || last === 'stopped' ? 'stopped' : 'dead') : s !== undefined && now - s <= deadAfter ? 'alive' : 'dead';
    let functions: string[] = [];
    try {
      const f = JSON.parse(fnHash?.[address] ?? '[]') as unknown;
      if (Array.isArray(f)) functions = f.filter((x): x is string => typeof x === 'string');
    } catch {
      // hand-written junk: no functions shown
    }
    const w: WorkerView = { address, health, functions, tasks: tasks.get(address) ?? [] };
    const st = states.get(address);
    if (st) {
      w.state = st.state;
      w.stateAt = st.at;
    }
    if (s !== undefined) w.seen = s;
    return w;
  });
  return { now, deadAfter, workers };
}

/** RUNNING task ids per worker: O(tasks running), as Client.stats */
async function tasksByWorker(redis: Connection, keys: Keys): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const ids = await redis.zrange(keys.leases, 0, -1);
  if (!ids.length) return out;
  const pipe = redis.pipeline();
  for (const id of ids) pipe.hmget(keys.task(id), 'state', 'worker');
  const replies = (await pipe.exec()) ?? [];
  ids.forEach((id, i) => {
    const [err, v] = replies[i] ?? [null, null];
    const [state, worker] = (err ? [] : v) as (string | null)[];
    if (state === 'RUNNING' && worker) out.set(worker, [...(out.get(worker) ?? []), id]);
  });
  return out;
}
