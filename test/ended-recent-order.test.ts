/**
 * The dashboard's ended list (awaiting cleanup, then tasks:ended:recent, newest first) against
 * real cleanups (reap.lua through reapEnded, as the monitor calls it): the order tasks ended in,
 * each id once on a page, and a kept hash still listed whatever another monitor's retention.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { reapEnded } from '../src/effects/sweep.js';
import { taskPage } from '../src/dashboard/task-pages.js';
import type { Keys } from '../src/keys.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';

let redis: Redis;
redisPerFile((_s, r) => {
  redis = r;
});

let n = 0;
const fresh = () => `ended-order-${++n}:`;

/** ids ended in this order: each an END hash and its place on the ended list, as finish.lua leaves them */
async function ended(keys: Keys, ids: string[]): Promise<void> {
  const m = redis.multi();
  for (const id of ids) {
    m.hset(keys.taskKeyPrefix + id, 'state', 'END', 'outcome', 'succeeded', 'function', 'f');
    m.sadd(keys.taskSet, id);
    m.rpush(keys.ended, id);
  }
  await m.exec();
}

const newestFirst = (ids: string[]) => [...ids].reverse();

async function wholeList(keys: Keys): Promise<string[]> {
  const out: string[] = [];
  let from: string | null = '0';
  while (from !== null) {
    const page = await taskPage(redis, [keys], 'ended', from, 500);
    out.push(...page.rows.map((r) => r.id));
    from = page.next;
  }
  return out;
}

describe('tasks:ended:recent', () => {
  it('a cleanup of a full batch (the monitor reaps 1,000 at a time) lists its ids in the order they ended', async () => {
    const keys = keysFor(fresh());
    // the 1,000th to end sorts before the 999th by name
    const ids = Array.from({ length: 1000 }, (_, i) => (i === 999 ? `a${i}` : `t${String(i).padStart(4, '0')}`));
    await ended(keys, ids);
    expect(await reapEnded(redis, keys, 3_600_000, 1000)).toEqual({ reaped: 1000, left: 0 });
    expect((await wholeList(keys)).slice(0, 3)).toEqual(newestFirst(ids).slice(0, 3));
  });

  it('two cleanups in the same millisecond (the monitor calls again at once while ends wait) list the second batch first, in order', async () => {
    for (let attempt = 0; ; attempt++) {
      const keys = keysFor(fresh());
      // ended first: z..., then a...; names sort the other way round
      const first = ['z1', 'z2', 'z3'];
      const second = ['a1', 'a2', 'a3'];
      await ended(keys, [...first, ...second]);
      // as a sweep does while cleanup is behind: one call, then another at once (one round trip
      // apart; pipelined here so that both land within the same millisecond)
      const [r1, r2] = await Promise.all([reapEnded(redis, keys, 3_600_000, 3), reapEnded(redis, keys, 3_600_000, 3)]);
      expect(r1.reaped + r2.reaped).toBe(6);
      const scores = (await redis.zrange(keys.recentEnded, 0, -1, 'WITHSCORES')).filter((_, i) => i % 2 === 1).map(Number);
      const ms = new Set(scores.map((s) => Math.floor(s / 1000)));
      if (ms.size !== 1) {
        if (attempt < 50) continue; // not in the same ms this time: try again
        throw new Error('never two cleanups in one millisecond');
      }
      expect(await wholeList(keys)).toEqual(newestFirst([...first, ...second]));
      return;
    }
  });

  it('a hash kept by one monitor stays listed when another monitor, with endRetention 0, cleans up', async () => {
    const keys = keysFor(fresh());
    await ended(keys, ['kept-1', 'kept-2']);
    // monitor A keeps ended hashes an hour
    await reapEnded(redis, keys, 3_600_000, 1000);
    expect(await wholeList(keys)).toEqual(['kept-2', 'kept-1']);
    // monitor B (endRetention 0) cleans up its own next ended task, a moment later
    await new Promise((r) => setTimeout(r, 5));
    await ended(keys, ['gone-3']);
    await reapEnded(redis, keys, 0, 1000);
    // kept-1 and kept-2 still have their hashes for an hour
    expect(await redis.exists(keys.taskKeyPrefix + 'kept-1')).toBe(1);
    expect(await wholeList(keys)).toEqual(['kept-2', 'kept-1']);
  });

  it('a page read while the monitor cleans up lists each id once', async () => {
    const keys = keysFor(fresh());
    await ended(keys, ['e1', 'e2', 'e3', 'e4']);
    // the monitor's cleanup, on a connection of its own, sent while the page's reads are: in
    // whatever order Redis runs them, the page reads one state (a page read in several round
    // trips, a cleanup between them, listed e4..e1 twice)
    const monitor = redis.duplicate();
    let reaped = false;
    let reap: Promise<unknown> = Promise.resolve();
    const racing = new Proxy(redis, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (prop === 'lrange' || prop === 'multi' || prop === 'zrevrange') {
          return (...args: unknown[]) => {
            if (!reaped) {
              reaped = true;
              reap = reapEnded(monitor, keys, 3_600_000, 1000);
            }
            return (v as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const page = await taskPage(racing as unknown as Redis, [keys], 'ended', '0', 10);
    await reap;
    monitor.disconnect();
    expect(reaped).toBe(true);
    expect(page.rows.map((r) => r.id)).toEqual(['e4', 'e3', 'e2', 'e1']);
  });
});

