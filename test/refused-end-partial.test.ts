/**
 * An END writes, beyond the task's hash, the keys of what the task held: its group's turn back
 * in its function (when its limit held the group back), its dedupe key, and for a retry the
 * delayed sets. One of those keys damaged by hand (WRONGTYPE) refused the call after it had
 * written the task END (or DELAYED), and the rest was never written:
 * - a grouped task: its group taken out of `blocked` and never given its turn back, so its other
 *   tasks never ran, the key mended or not;
 * - a keyed task: its end never told (no `end` event), its dedupe key held;
 * - a retry: the task DELAYED but in no delayed set, never promoted, never run again.
 * Now such an END is refused before its first write, the worker tries it again, and once the key
 * is mended it is written whole. The other ENDs of the same call are not held back by it.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';
import { collectingLogger } from './helpers/collecting-logger.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

function gate() {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
}

async function swarm(concurrency = 4, heartbeatInterval = 1000) {
  const o = server.options();
  const c = new Client({ redis: o });
  const log = collectingLogger();
  const w = new Worker({ port: 0, redis: o, concurrency, heartbeatInterval, logger: log.logger });
  cleanup.push(() => c.close(), () => w.stop());
  return { o, c, w, log, keys: keysFor(o.keyPrefix) };
}

/** the `end` events published for the task, as they come */
async function endsOf(o: { keyPrefix: string }, id: string): Promise<string[]> {
  const sub = redis.duplicate();
  cleanup.push(() => sub.quit().then(() => undefined));
  const seen: string[] = [];
  await sub.subscribe(`${o.keyPrefix}task-${id}-events`);
  sub.on('message', (_ch, m: string) => {
    if ((JSON.parse(m) as { event: string }).event === 'end') seen.push(m);
  });
  return seen;
}

describe('an END refused at a key it would write', () => {
  it("a grouped task whose group's turn cannot be given back: nothing written until mended, then the group's next task runs", async () => {
    const { o, c, w, keys, log } = await swarm();
    await c.setLimit({ group: 'g' }, { concurrency: 1 });
    const first = gate();
    w.addTaskFunction('f', async (task) => {
      if (task.id === 'g-1') await first.p;
      return task.id;
    });
    await w.start();
    await c.submit('f', 1, { id: 'g-1', group: 'g' });
    await until(async () => (await c.get('g-1'))?.state === 'RUNNING', 'g-1 runs');
    await c.submit('f', 2, { id: 'g-2', group: 'g' });
    // (g-2's group waits for g-1's end, out of its function's turns)
    await until(async () => (await redis.zcard(keys.functionQueue('f', 'blocked'))) === 1, "g-2's group held back by its limit");
    const groups = keys.functionQueue('f', 'groups');
    await redis.del(groups);
    await redis.set(groups, 'not a zset');
    const ends = await endsOf(o, 'g-1');
    first.open();
    await new Promise((r) => setTimeout(r, 500));
    // refused whole, tried again: still RUNNING under its lease, no end told, the group held back as it was
    expect((await c.get('g-1'))?.state).toBe('RUNNING');
    expect(ends).toEqual([]);
    expect(await redis.zcard(keys.functionQueue('f', 'blocked'))).toBe(1);
    expect(log.lines.filter((l) => l.includes('"g-1": could not write its end, retrying: Redis refused its END (nothing of it written): WRONGTYPE'))).toHaveLength(1);
    await redis.del(groups);
    const t1 = await c.wait('g-1', { timeout: 5000 });
    const t2 = await c.wait('g-2', { timeout: 5000 });
    expect([t1.outcome, t2.outcome]).toEqual(['succeeded', 'succeeded']);
    await until(() => ends.length === 1, 'the end of g-1 told once');
  });

  it('a keyed task whose dedupe hash is damaged: no end until mended, then its end told once', async () => {
    const { o, c, w, keys } = await swarm();
    const first = gate();
    w.addTaskFunction('f', async () => {
      await first.p;
      return 'done';
    });
    await w.start();
    await c.submit('f', 1, { id: 'k-1', key: 'the-key' });
    await until(async () => (await c.get('k-1'))?.state === 'RUNNING', 'k-1 runs');
    const ends = await endsOf(o, 'k-1');
    await redis.rename(keys.dedupe, `${keys.dedupe}:kept`);
    await redis.set(keys.dedupe, 'not a hash');
    first.open();
    await new Promise((r) => setTimeout(r, 500));
    expect((await c.get('k-1'))?.state).toBe('RUNNING');
    expect(ends).toEqual([]);
    await redis.del(keys.dedupe);
    await redis.rename(`${keys.dedupe}:kept`, keys.dedupe);
    expect((await c.wait('k-1', { timeout: 5000 })).outcome).toBe('succeeded');
    await until(() => ends.length === 1, 'the end of k-1 told');
    // its key free: a new submit under it is a new task
    const again = await c.submit('f', 2, { key: 'the-key' });
    expect(again).not.toBe('k-1');
  });

  it('a retry whose delayed set is damaged: not written until mended, then the task runs again', async () => {
    const { c, w, keys } = await swarm();
    let runs = 0;
    const first = gate();
    w.addTaskFunction('f', async () => {
      runs++;
      if (runs === 1) {
        await first.p;
        throw new Error('first attempt fails');
      }
      return 'second';
    });
    await w.start();
    await c.submit('f', 1, { id: 'r-1', attempts: 2, backoff: 50 });
    await until(async () => (await c.get('r-1'))?.state === 'RUNNING', 'r-1 runs');
    await redis.set(keys.delayed, 'not a zset');
    first.open();
    await new Promise((r) => setTimeout(r, 500));
    expect((await c.get('r-1'))?.state).toBe('RUNNING');
    await redis.del(keys.delayed);
    const t = await c.wait('r-1', { timeout: 5000 });
    expect({ outcome: t.outcome, result: t.result, attempt: t.attempt, runs }).toEqual({ outcome: 'succeeded', result: 'second', attempt: 2, runs: 2 });
  });

  it("a plain task whose swarm's `ended` list is damaged: nothing written until mended, then ended whole, listed for cleanup once", async () => {
    const { o, c, w, keys } = await swarm();
    const first = gate();
    w.addTaskFunction('f', async () => {
      await first.p;
      return 'done';
    });
    await w.start();
    await c.submit('f', 1, { id: 'p-1' });
    await until(async () => (await c.get('p-1'))?.state === 'RUNNING', 'p-1 runs');
    const ends = await endsOf(o, 'p-1');
    await redis.set(keys.ended, 'not a list');
    first.open();
    await new Promise((r) => setTimeout(r, 500));
    // refused whole: RUNNING under its lease, in the lease index, no end told
    expect((await c.get('p-1'))?.state).toBe('RUNNING');
    expect(await redis.zscore(keys.leases, 'p-1')).not.toBeNull();
    expect(ends).toEqual([]);
    await redis.del(keys.ended);
    expect((await c.wait('p-1', { timeout: 5000 })).outcome).toBe('succeeded');
    await until(() => ends.length === 1, 'the end of p-1 told');
    expect(await redis.lrange(keys.ended, 0, -1)).toEqual(['p-1']);
    expect(await redis.zscore(keys.leases, 'p-1')).toBeNull();
  });

  it('a plain task, or a retry, whose lease index is damaged: nothing written (not even `ended` or the task set) until mended', async () => {
    // (heartbeats a long way apart: a renew, refused too, would send the worker to reconcile)
    const { o, c, w, keys } = await swarm(4, 20_000);
    const both = gate();
    let runs = 0;
    w.addTaskFunction('f', async (task) => {
      await both.p;
      if (task.id === 'r-1' && ++runs === 1) throw new Error('first attempt fails');
      return task.id;
    });
    await w.start();
    await c.submit('f', 1, { id: 'p-1' });
    await c.submit('f', 1, { id: 'r-1', attempts: 2, backoff: 50 });
    await until(async () => (await c.get('p-1'))?.state === 'RUNNING' && (await c.get('r-1'))?.state === 'RUNNING', 'both run');
    const ends = await endsOf(o, 'p-1');
    const held = await redis.zrange(keys.leases, 0, -1, 'WITHSCORES');
    await redis.set(keys.leases, 'not a zset');
    both.open();
    await new Promise((r) => setTimeout(r, 500));
    expect((await c.get('p-1'))?.state).toBe('RUNNING');
    expect((await c.get('r-1'))?.state).toBe('RUNNING');
    expect(ends).toEqual([]);
    expect(await redis.llen(keys.ended)).toBe(0);
    expect((await redis.smembers(keys.taskSet)).sort()).toEqual(['p-1', 'r-1']);
    await redis.del(keys.leases);
    for (let i = 0; i < held.length; i += 2) await redis.zadd(keys.leases, held[i + 1]!, held[i]!);
    expect((await c.wait('p-1', { timeout: 5000 })).outcome).toBe('succeeded');
    const r = await c.wait('r-1', { timeout: 5000 });
    expect({ outcome: r.outcome, attempt: r.attempt, runs }).toEqual({ outcome: 'succeeded', attempt: 2, runs: 2 });
    await until(() => ends.length === 1, 'the end of p-1 told');
    expect(await redis.zcard(keys.leases)).toBe(0);
  });

  it('does not hold back the plain ENDs that travel with it', async () => {
    const { c, w, keys } = await swarm();
    await c.setLimit({ group: 'g' }, { concurrency: 1 });
    const both = gate();
    w.addTaskFunction('f', async (task) => {
      if (task.id !== 'g-2') await both.p;
      return task.id;
    });
    await w.start();
    await c.submit('f', 1, { id: 'g-1', group: 'g' });
    await c.submit('f', 1, { id: 'plain' });
    await until(async () => (await c.get('g-1'))?.state === 'RUNNING' && (await c.get('plain'))?.state === 'RUNNING', 'both run');
    await c.submit('f', 2, { id: 'g-2', group: 'g' });
    await until(async () => (await redis.zcard(keys.functionQueue('f', 'blocked'))) === 1, "g-2's group held back by its limit");
    await redis.set(keys.functionQueue('f', 'groups'), 'not a zset');
    // (both settle in one tick: their ENDs go in one call)
    both.open();
    expect((await c.wait('plain', { timeout: 5000 })).outcome).toBe('succeeded');
    expect((await c.get('g-1'))?.state).toBe('RUNNING');
    await redis.del(keys.functionQueue('f', 'groups'));
    expect((await c.wait('g-2', { timeout: 5000 })).outcome).toBe('succeeded');
  });
});
