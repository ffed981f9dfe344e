/**
 * The workers as the dashboard shows them: the `workers` set, when each one's heartbeat is
 * overdue (the seen zset), their functions and the machine states they wrote
 * (src/effects/worker-states.ts), with the tasks each runs, from the lease index.
 */
import type { Connection } from '../redis.js';
import type { Keys } from '../keys.js';
import { readWorkerStates } from '../effects/worker-states.js';
import { OwnerEntries, parseOwners } from '../address-owners.js';
import { readTogether } from '../read-together.js';

export interface WorkerView {
  address: string;
  /**
   * alive: listed, its next heartbeat not overdue; dead: overdue (a monitor prunes it, and its
   * record, after 2 taskTimeouts), or not listed
   */
  health: 'alive' | 'dead';
  /** the worker machine's state value as it last wrote it */
  state?: unknown;
  stateAt?: number;
  /** Redis ms its next heartbeat is overdue (its last one + 3 heartbeat intervals) */
  overdueAt?: number;
  functions: string[];
  /** ids of the tasks it runs (from the lease index) */
  tasks: string[];
  /**
   * the processes heartbeating under this address (`workers:owners`, src/address-owners.ts):
   * those whose entries moved while this dashboard watched, and kept their pace (while none has
   * moved: the one that wrote last). More than one
   * is two hosts behind one address, or one `advertise` given to two, which the workers log as
   * an error
   */
  processes: string[];
}

/**
 * What the dashboard saw of `workers:owners` from one read to the next, per address, judged as
 * the workers judge it (src/address-owners.ts): an entry that moves is a process that
 * heartbeats; one that stands still, or missed two heartbeats, is a process gone.
 */
export class OwnersWatch {
  private byAddress = new Map<string, OwnerEntries>();

  /** the live processes under each address of `fields` (address -> the field), at Redis time `now` */
  read(fields: Record<string, string>, addresses: Iterable<string>, now: number): Map<string, string[]> {
    const next = new Map<string, OwnerEntries>();
    const out = new Map<string, string[]>();
    for (const address of addresses) {
      const entries = this.byAddress.get(address) ?? new OwnerEntries();
      next.set(address, entries);
      const field = parseOwners(fields[address]);
      const read = entries.read(field, now);
      // (a process just started there has not moved yet: while none has, the one that wrote
      // last is shown, so a listed worker never shows as no process between a restart and its
      // next heartbeat, nor as two: the killed one before it is as unsure until it has missed two)
      let latest: string | undefined;
      for (const name of read.unsure) if (latest === undefined || field.get(name)!.overdue > field.get(latest)!.overdue) latest = name;
      out.set(address, read.live.length > 0 ? read.live : latest === undefined ? [] : [latest]);
    }
    // (addresses no longer shown are forgotten)
    this.byAddress = next;
    return out;
  }
}

/**
 * `parts`: the keys of every partition; workers are read from the first (they register in
 * each). `owners`: what the reads before this one saw of the processes under each address.
 */
export async function readWorkers(redis: Connection, parts: Keys[], owners = new OwnersWatch()): Promise<{ now: number; workers: WorkerView[] }> {
  const keys = parts[0]!;
  const replies = (await readTogether(redis, (c) => c.smembers(keys.workerSet).zrange(keys.workerSeen, 0, -1, 'WITHSCORES').hgetall(keys.workerFunctions).hgetall(keys.workerOwners).time())) ?? [];
  const [listed, seenFlat, fnHash, ownerFields, time] = replies.map(([e, v]) => (e ? null : v)) as [
    string[] | null,
    string[] | null,
    Record<string, string> | null,
    Record<string, string> | null,
    [string, string] | null,
  ];
  const now = time ? Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000) : Date.now();
  const seen = new Map<string, number>();
  for (let i = 0; seenFlat && i < seenFlat.length; i += 2) seen.set(seenFlat[i]!, Number(seenFlat[i + 1]));
  const states = await readWorkerStates(redis, keys);
  const tasks = await tasksByWorker(redis, parts);
  const names = new Set([...(listed ?? []), ...states.keys()]);
  const processes = owners.read(ownerFields ?? {}, names, now);
  const workers = [...names].sort().map((address): WorkerView => {
    const isListed = listed?.includes(address) ?? false;
    const s = seen.get(address);
    const health = isListed && s !== undefined && now <= s ? 'alive' : 'dead';
    let functions: string[] = [];
    try {
      const f = JSON.parse(fnHash?.[address] ?? '[]') as unknown;
      if (Array.isArray(f)) functions = f.filter((x): x is string => typeof x === 'string');
    } catch {
      // hand-written junk: no functions shown
    }
    const w: WorkerView = { address, health, functions, tasks: tasks.get(address) ?? [], processes: processes.get(address) ?? [] };
    const st = states.get(address);
    if (st) {
      w.state = st.state;
      w.stateAt = st.at;
    }
    if (s !== undefined) w.overdueAt = s;
    return w;
  });
  return { now, workers };
}

/**
 * the running tasks read per status refresh for the workers' task lists, shared evenly by the
 * partitions; past it, the lists show the longest-silent of each partition's share (the task
 * pages have them all)
 */
export const WORKER_TASKS_READ = 2000;

/** RUNNING task ids per worker, from the first WORKER_TASKS_READ / partitions of each partition's lease index */
async function tasksByWorker(redis: Connection, parts: Keys[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const share = Math.ceil(WORKER_TASKS_READ / parts.length);
  // (each partition its own range and pipeline: on a Cluster, one slot each)
  const each = await Promise.all(
    parts.map(async (keys) => {
      const ids = await redis.zrange(keys.leases, 0, share - 1);
      if (!ids.length) return [];
      const pipe = redis.pipeline();
      for (const id of ids) pipe.hmget(keys.task(id), 'state', 'worker');
      const replies = (await pipe.exec()) ?? [];
      return ids.map((id, i) => {
        const [err, v] = replies[i] ?? [null, null];
        const [state, worker] = (err ? [] : v) as (string | null)[];
        return { id, running: state === 'RUNNING' && worker ? worker : undefined };
      });
    }),
  );
  for (const { id, running } of each.flat()) if (running) out.set(running, [...(out.get(running) ?? []), id]);
  return out;
}
