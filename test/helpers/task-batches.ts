/** Many tasks at once, for the tests that drain thousands: submitted and read back in batches. */
import type { Redis } from 'ioredis';
import type { Client } from '../../src/index.js';

/** submit `n` tasks of `fn` (data `{ i }`), a thousand per Client.submitMany; their ids in order */
export async function submitInBatches(c: Client, fn: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 1000) ids.push(...(await c.submitMany(Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({ fn, data: { i: i + j } })))));
  return ids;
}

/** how many of `ids` are in each state in Redis (the default key names), read in pipelines */
export async function stateCounts(r: Redis, ids: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let i = 0; i < ids.length; i += 1000) {
    const p = r.pipeline();
    for (const id of ids.slice(i, i + 1000)) p.hget(`task-${id}`, 'state');
    for (const [, state] of (await p.exec())!) out.set(String(state), (out.get(String(state)) ?? 0) + 1);
  }
  return out;
}

/** how many run at once now, and the most seen */
export type Load = { now: number; most: number };

/**
 * a task function that counts the runs of each id, and how many run at once in each of `loads`;
 * each run lasts `ms` (asked per run when a function; 0: it ends in a microtask)
 */
export function counting(runs: Map<string, number>, loads: Load[], ms: number | (() => number)) {
  return async (task: { id: string }) => {
    runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
    for (const l of loads) l.most = Math.max(l.most, ++l.now);
    try {
      const wait = typeof ms === 'function' ? ms() : ms;
      await (wait > 0 ? new Promise((r) => setTimeout(r, wait)) : Promise.resolve());
    } finally {
      for (const l of loads) l.now--;
    }
  };
}
