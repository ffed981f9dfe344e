/**
 * Measures for the swarm-wide limits tests, all on Redis's clock: a task's `start` (claim) and
 * `end` (END) are written by the scripts, so what the workers believe plays no part.
 */
import { expect } from 'vitest';
import type { Redis } from 'ioredis';
import type { Client, TaskInfo } from '../../src/index.js';

export interface Interval {
  id: string;
  start: number;
  end: number;
}

/** The ended tasks' [start, end] on Redis's clock (each must have ended). */
export async function intervals(c: Client, ids: string[]): Promise<(Interval & { task: TaskInfo })[]> {
  const out: (Interval & { task: TaskInfo })[] = [];
  for (const id of ids) {
    const t = await c.get(id);
    if (!t || t.start === undefined || t.end === undefined) throw new Error(`task ${id} has no start and end: ${JSON.stringify(t)}`);
    out.push({ id, start: t.start, end: t.end, task: t });
  }
  return out;
}

/**
 * The most intervals open at one instant. An END and a claim in the same millisecond count as
 * one after the other: a worker's END and its next claim run in one script (finish-claim.lua),
 * the slot released before it is taken again.
 */
export function maxOverlap(xs: { start: number; end: number }[]): number {
  const edges = xs.flatMap((x) => [
    { t: x.start, d: 1 },
    { t: x.end, d: -1 },
  ]);
  edges.sort((a, b) => a.t - b.t || a.d - b.d);
  let open = 0;
  let max = 0;
  for (const e of edges) {
    open += e.d;
    max = Math.max(max, open);
  }
  return max;
}

/** The most starts in any window [s, s + per) of Redis's clock. */
export function maxStartsIn(per: number, starts: number[]): number {
  const s = [...starts].sort((a, b) => a - b);
  let max = 0;
  for (let i = 0, j = 0; i < s.length; i++) {
    while (s[j]! < s[i]! - per + 1) j++;
    max = Math.max(max, i - j + 1);
  }
  return max;
}

/**
 * No task counts as running any more (`new-task:running`): no slot leaked, and no counter left
 * behind (a count back at 0 is dropped, so the hash does not grow with every group ever run).
 */
export async function expectNoneRunning(redis: Redis, keyPrefix: string): Promise<void> {
  expect(await redis.hgetall(`${keyPrefix}new-task:running`)).toEqual({});
}
