/**
 * The dashboard's `queued` list: every QUEUED task, wherever it waits (docs/queue-layout.md).
 * A task submitted of the seed's kind waits in the `queued` set until a claim routes it; then, or
 * at once when it has a group or a priority, it waits in its function's queue: one zset per group
 * ("<seq>:<id>" members), the groups listed in the function's `groups` zset (by turn) or, while a
 * limit holds them back, its `blocked` zset. No index lists them all in one order, so a walk goes
 * through the sources of each partition in turn: the queued set (SSCAN), then each function with
 * tasks queued (the `q:<fn>` counts, by name), its `groups` and then its `blocked` groups by rank,
 * each group's tasks by rank. Where it stops is the cursor: `<partition>:<SSCAN cursor>` (bare in
 * a swarm of one partition, as before functions were walked) or
 * `<partition>:f:<g|b>:<group rank>:<task rank>:<function, base64url>`.
 *
 * A page reads ranges of at most what it still needs, the counts hash of each partition it
 * reaches (one field per function: its size follows the functions, not the tasks), and a ZCARD
 * per group it reaches: never a whole queue. Like the offsets of the other lists, ranks move as
 * claims take tasks and groups change turns, so a walk over a queue that changes may show a task
 * twice or miss one; over a queue at rest it shows each task once.
 */
import type { Connection } from '../redis.js';
import { placeTaskId, type Keys } from '../keys.js';
import { InvalidTaskError } from '../errors.js';
import { readTogether } from '../read-together.js';

type Source = 'g' | 'b';

type Place = { p: number; set: string } | { p: number; fn: string; src: Source; group: number; task: number };

/** what one partition holds queued: the queued set's size, and the functions with tasks in their queue */
interface Holdings {
  inSet: number;
  /** by name: the order a walk takes them in */
  fns: string[];
  routed: number;
}

export interface QueuedWalk {
  ids: string[];
  /** the partition of each id */
  partOf: number[];
  next: string | null;
  /** what every partition holds queued: its queued set and its functions' `q:<fn>` counts */
  total: number;
}

const CURSOR = /^(?:(\d+):)?(?:(\d+)|f:([gb]):(\d+):(\d+):([A-Za-z0-9_-]+))$/;

/** the place a `from` names (`0`, a cursor, or a `next` this walk gave) */
function parsePlace(from: string, n: number): Place {
  const m = CURSOR.exec(from);
  if (!m) throw new InvalidTaskError('from must be a cursor: 0, or the next of a page of queued tasks');
  const p = Number(m[1] ?? 0);
  if (p >= n) throw new InvalidTaskError(`from names partition ${p}, and this swarm has ${n} (0 to ${n - 1})`);
  if (m[2] !== undefined) return { p, set: m[2] };
  return { p, fn: Buffer.from(m[6]!, 'base64url').toString('utf8'), src: m[3] as Source, group: Number(m[4]), task: Number(m[5]) };
}

function formatPlace(at: Place, n: number): string {
  if ('set' in at) return n === 1 && at.p === 0 ? at.set : `${at.p}:${at.set}`;
  return `${at.p}:f:${at.src}:${at.group}:${at.task}:${Buffer.from(at.fn, 'utf8').toString('base64url')}`;
}

function holdings(inSet: number, counts: Record<string, string>): Holdings {
  const fns: string[] = [];
  let routed = 0;
  for (const [field, v] of Object.entries(counts)) {
    const q = Number(v);
    if (!field.startsWith('q:') || !(q > 0)) continue;
    fns.push(field.slice(2));
    routed += q;
  }
  return { inSet, fns: fns.sort(), routed };
}

/** the first place of partition `p`'s functions at or after `fn` (from its first group), or the next partition's start */
function functionFrom(h: Holdings, p: number, fn: string): Place {
  const next = h.fns.find((f) => f >= fn);
  return next === undefined ? { p: p + 1, set: '0' } : { p, fn: next, src: 'g', group: 0, task: 0 };
}


export async function walkQueued(redis: Connection, parts: Keys[], from: string, limit: number): Promise<QueuedWalk> {
  const n = parts.length;
  let at = parsePlace(from, n);
  const held: (Holdings | undefined)[] = Array.from({ length: n }, () => undefined);
  const holdingsOf = async (p: number): Promise<Holdings> => {
    const k = parts[p]!;
    const [[, inSet], [, counts]] = (await readTogether(redis, (c) => c.scard(k.queued).hgetall(k.counts))) as [[unknown, number], [unknown, Record<string, string>]];
    return (held[p] = holdings(inSet, counts));
  };
  const ids: string[] = [];
  const partOf: number[] = [];
  const take = (p: number, got: string[]) => {
    for (const id of got) {
      ids.push(id);
      partOf.push(p);
    }
  };
  // a sparse set's SSCAN step, a function's blocked groups (mostly none) or a function whose
  // queue emptied since it was counted may give nothing without being the end: bounded (two
  // such steps per function that gives tasks, a few per partition), a page may come short and
  // its next goes on from there
  for (let steps = 0; at.p < n && ids.length < limit && steps < 4 * n + 2 * limit + 16; steps++) {
    const p = at.p;
    const k = parts[p]!;
    const want = limit - ids.length;
    if ('set' in at) {
      // a set has no order to page by: SSCAN's cursor walks it in bounded steps
      const cursor = at.set;
      const [[, step], [, inSet], [, counts]] = (await readTogether(redis, (c) => c.sscan(k.queued, cursor, 'COUNT', want).scard(k.queued).hgetall(k.counts))) as [
        [unknown, [string, string[]]],
        [unknown, number],
        [unknown, Record<string, string>],
      ];
      const h = (held[p] = holdings(inSet, counts));
      take(p, step[1]);
      at = step[0] === '0' ? functionFrom(h, p, '') : { p, set: step[0] };
      continue;
    }
    const h = held[p] ?? (await holdingsOf(p));
    if (!h.fns.includes(at.fn)) {
      // its tasks all left since the cursor was made: the next function from its start
      at = functionFrom(h, p, at.fn);
      continue;
    }
    const fn = at.fn;
    const groups = await redis.zrange(k.functionQueue(fn, at.src === 'g' ? 'groups' : 'blocked'), at.group, at.group + want - 1);
    if (groups.length === 0) {
      at = at.src === 'g' ? { p, fn, src: 'b', group: 0, task: 0 } : functionFrom(h, p, `${fn}\0`);
      continue;
    }
    const sizes = ((await groups.reduce((pipe, g) => pipe.zcard(k.groupQueue(fn, g)), redis.pipeline()).exec()) ?? []).map(([, c]) => Number(c) || 0);
    // how much of each group this page takes, and where the next one goes on
    const ranges: [string, number, number][] = [];
    let rest = want;
    let then: Place | undefined;
    for (let i = 0; i < groups.length; i++) {
      const start = i === 0 ? at.task : 0;
      const count = Math.min(Math.max(0, sizes[i]! - start), rest);
      if (count > 0) ranges.push([groups[i]!, start, start + count - 1]);
      rest -= count;
      if (start + count < sizes[i]!) {
        then = { p, fn, src: at.src, group: at.group + i, task: start + count };
        break;
      }
      if (rest === 0) {
        then = { p, fn, src: at.src, group: at.group + i + 1, task: 0 };
        break;
      }
    }
    // every group of this range read whole and room left: the next range, or this source's end
    then ??= groups.length === want ? { p, fn, src: at.src, group: at.group + groups.length, task: 0 } : at.src === 'g' ? { p, fn, src: 'b', group: 0, task: 0 } : functionFrom(h, p, `${fn}\0`);
    if (ranges.length > 0) {
      const replies = (await ranges.reduce((pipe, [g, a, b]) => pipe.zrange(k.groupQueue(fn, g), a, b), redis.pipeline()).exec()) ?? [];
      for (const [err, members] of replies) if (!err) take(p, (members as string[]).map(placeTaskId));
    }
    at = then;
  }
  const next = at.p >= n ? null : formatPlace(at, n);
  // the partitions the walk did not reach: one read of their counts each
  await Promise.all(held.map((h, p) => (h ? undefined : holdingsOf(p))));
  const total = held.reduce((a, h) => a + (h ? h.inSet + h.routed : 0), 0);
  return { ids, partOf, next, total };
}
