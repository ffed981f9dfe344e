/**
 * One swarm spread over N Redis Cluster slots (`redis.partitions`), so that its load is shared
 * by the cluster's primaries. Each partition is a whole swarm layout of its own (queue, task
 * hashes, leases, workers, dead letters...) under its own hash tag, so each script still runs
 * in one slot; what spans them is done by the components:
 *
 * - a task lives in the partition of its id (`partitionOf`): every reader finds it from the id
 *   alone. An id the producer leaves to us is drawn so that the task lands in the partition of
 *   its group (then a group's limits and turns hold exactly, in one place) or of its dedupe key
 *   (then two submits with one key meet in one place); an id given lands where it hashes.
 *   Tasks fired by schedules (ids `schedule:...`) live in partition 0, with the schedules.
 * - a worker registers, heartbeats and claims in every partition, starting each claim at the
 *   next one in turn, so none starves; a monitor sweeps every partition.
 * - what applies to the swarm (pause, limits) is written to every partition; schedules live in
 *   partition 0.
 *
 * The partitions' hash tags are the keyPrefix's, with `:<p>` (and `.<k>` when needed) added:
 * `{jobs}:` gives `{jobs:0}:`, `{jobs:1.3}:`... The k is the first that puts partition p's slot
 * in the p-th of N equal ranges of the 16384 slots, so that on a cluster whose primaries split
 * the slots evenly (as `redis-cli --cluster create` does) N partitions over N primaries land
 * one on each. With `partitions: 1` (the default) the layout is the keyPrefix's own, unchanged.
 */
import { newTaskId } from './submission.js';
import { SCHEDULE_ID_PREFIX } from './schedule.js';

export { partitionKeys, partitionPrefix } from './partition-keys.js';

/** FNV-1a of a string's UTF-16 units: a stable, quick spread of ids (not Redis's slot hash: any even spread does) */
function spread(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** the partition of the task `id` (of `n`) */
export function partitionOf(id: string, n: number): number {
  if (n === 1 || id.startsWith(SCHEDULE_ID_PREFIX)) return 0;
  return spread(id) % n;
}

/** the partition a group's or a dedupe key's tasks are placed in */
export function partitionOfPlace(place: string, n: number): number {
  return n === 1 ? 0 : spread(`\u0000${place}`) % n;
}

/**
 * The id of a task submitted without one, in a swarm of `n` partitions: in the partition of its
 * `place` (its group, else its dedupe key) when it has one, else in one drawn at random.
 */
export function drawTaskId(n: number, place?: string): string {
  if (n === 1) return newTaskId();
  return newTaskIdIn(place === undefined ? Math.floor(Math.random() * n) : partitionOfPlace(place, n), n);
}

/** a new task id in partition `p` of `n` (drawn again until it lands there: n draws on average) */
export function newTaskIdIn(p: number, n: number): string {
  for (;;) {
    const id = newTaskId();
    if (partitionOf(id, n) === p) return id;
  }
}
