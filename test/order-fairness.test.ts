/**
 * Fairness (issue 9): the groups of a function with queued work take turns (round robin), so a
 * group's flood does not hold back another group's task, whatever their priorities; priority
 * orders tasks within a group.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { ingressEmpty, pushEntries, recorder, recordingWorker, seedEntry, type Recorder } from './helpers/order.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

/** workers for f, each recording into `rec` */
async function workers(o: Record<string, unknown>, rec: Recorder, n: number, concurrency: number, runMs = 0): Promise<void> {
  for (let i = 0; i < n; i++) {
    const w = recordingWorker(o, 'f', rec, { concurrency, runMs });
    cleanup.push(() => w.stop());
    await w.start();
  }
}

/** f paused while `entries` are pushed and routed, so that all of them wait in f's structure */
async function queueAll(c: Client, o: { keyPrefix: string }, entries: string[]): Promise<void> {
  await c.pause('f');
  await pushEntries(redis, o.keyPrefix, entries);
  await ingressEmpty(redis, o.keyPrefix);
  expect((await c.stats()).functions.f?.queued).toBe(entries.length);
}

describe('a group holding thousands of queued tasks', () => {
  it('does not hold back another group: its one task starts before the flood has started `slots` more (2 workers x concurrency 2)', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const rec = recorder();
    const slots = 2 * 2;
    // tasks of 100 ms: the flood keeps every slot busy, and starts are far enough apart that the
    // submit's own round trip (slow under load) lets few of them through
    await workers(o, rec, 2, 2, 100);
    const flood = Array.from({ length: 5000 }, (_, i) => seedEntry(`a-${i}`, 'f', { group: 'A' }));
    await pushEntries(redis, o.keyPrefix, flood);
    await ingressEmpty(redis, o.keyPrefix);
    await rec.started(50);
    await c.submit('f', { group: 'B' }, { id: 'b-1', group: 'B' });
    // counted from B's task in the queue (the submit's reply): on a loaded machine the submit's
    // own round trip outlasts a task, and the starts it saw were not B's to wait for
    const before = rec.starts.length;
    await until(() => rec.ids().includes('b-1'), 'b-1 started');
    const aStartedMeanwhile = rec.ids().indexOf('b-1') - before;
    console.log(`fairness: group A started ${aStartedMeanwhile} task(s) between B's queueing and B's start (slots ${slots}; A still queued: ${(await c.stats()).functions.f?.queued})`);
    expect(aStartedMeanwhile).toBeLessThan(slots);
  });
});

describe('a flood still on new-task, not routed yet', () => {
  /*
   * A flood pushed in one go sits on new-task until claims route it, 64 or more entries per
   * claim. A task submitted through Client with a group (or a priority) is placed in its
   * function's queue at once (submit.lua), so its turn counts from its submit, not from when the
   * backlog ahead of it has been routed. Failed before: B waited behind the routing of 20,000
   * entries (hundreds of A starts).
   */
  it('a group task submitted through Client right after 20,000 entries of group A starts before A has started `slots` more', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const rec = recorder();
    const slots = 2 * 2;
    // tasks of 100 ms: the A tasks that start while the submit itself is on its way (its round
    // trip, slow under load) are few; at 20 ms they alone could reach `slots` (seen in CI)
    await workers(o, rec, 2, 2, 100);
    await rec.started(0);
    const flood = Array.from({ length: 20_000 }, (_, i) => seedEntry(`a-${i}`, 'f', { group: 'A' }));
    await pushEntries(redis, o.keyPrefix, flood);
    await rec.started(20);
    expect(await redis.llen(`${o.keyPrefix}new-task`), 'most of the flood still unrouted').toBeGreaterThan(10_000);
    await c.submit('f', null, { id: 'b-1', group: 'B' });
    // (counted from B's task in the queue, as above)
    const before = rec.starts.length;
    await until(() => rec.ids().includes('b-1'), 'b-1 started');
    const aStartedMeanwhile = rec.ids().indexOf('b-1') - before;
    expect(aStartedMeanwhile).toBeLessThan(slots);
  });

  it('a priority task submitted through Client right after 5,000 priority-0 entries starts before `slots` more of them', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const rec = recorder();
    const slots = 2 * 2;
    await workers(o, rec, 2, 2, 100);
    await pushEntries(redis, o.keyPrefix, Array.from({ length: 5000 }, (_, i) => seedEntry(`z-${i}`, 'f')));
    await rec.started(20);
    await c.submit('f', null, { id: 'urgent', priority: 10 });
    // (counted from its place in the queue, as above)
    const before = rec.starts.length;
    await until(() => rec.ids().includes('urgent'), 'urgent started');
    expect(rec.ids().indexOf('urgent') - before).toBeLessThan(slots);
  });
});

describe('1,000 groups with 5 queued tasks each', () => {
  it('take turns: no group starts its k-th task before every group has started k - 1, so over the first 3,000 starts each has started 3 (max/min share 1)', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const rec = recorder();
    // one worker of concurrency 4: its starts are in the order of its claims, so the order seen
    // here is the claim order (with several workers, what is in flight may blur it)
    await workers(o, rec, 1, 4);
    const GROUPS = 1000;
    const PER = 5;
    const PREFIX = 3000;
    // pushed group after group, as tenants that each submit a burst
    const entries: string[] = [];
    for (let g = 0; g < GROUPS; g++) for (let k = 0; k < PER; k++) entries.push(seedEntry(`g${g}-${k}`, 'f', { group: `g${g}` }));
    await queueAll(c, o, entries);
    const t0 = Date.now();
    await c.resume('f');
    await rec.started(PREFIX, 25_000);
    const ms = Date.now() - t0;
    const counts = new Map<string, number>();
    /** reached[k]: how many groups have started k tasks so far */
    const reached = [GROUPS];
    const early: string[] = [];
    for (const { id, group } of rec.starts.slice(0, PREFIX)) {
      const k = (counts.get(group!) ?? 0) + 1;
      counts.set(group!, k);
      reached[k] = (reached[k] ?? 0) + 1;
      if (reached[k - 1] !== GROUPS) early.push(`${id} (${reached[k - 1]} groups had started ${k - 1})`);
    }
    const shares = [...counts.values()];
    const max = Math.max(...shares);
    const min = counts.size < GROUPS ? 0 : Math.min(...shares);
    console.log(`fairness: over the first ${PREFIX} starts of ${GROUPS} groups, max/min share ${max}/${min} = ${(max / min).toFixed(3)}; ${PREFIX} starts in ${ms} ms`);
    expect(early.slice(0, 5)).toEqual([]);
    expect(counts.size).toBe(GROUPS);
    expect(max / min).toBe(1);
  });
});

describe('groups take turns whatever their priorities', () => {
  it('a group of high priorities and a group of low ones alternate; within each, the higher priority first, FIFO within one', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const rec = recorder();
    await workers(o, rec, 1, 1);
    const entries = [
      ...[0, 1, 2, 3].map((k) => seedEntry(`hi-${k}`, 'f', { group: 'hi', priority: 500 })),
      ...[0, 1, 2, 3].map((k) => seedEntry(`lo-${k}`, 'f', { group: 'lo', priority: -1000 })),
      seedEntry('hi-top', 'f', { group: 'hi', priority: 1000 }),
      seedEntry('lo-top', 'f', { group: 'lo', priority: -500 }),
    ];
    await queueAll(c, o, entries);
    await c.resume('f');
    await rec.started(entries.length);
    // hi has work first, so it has the first turn
    expect(rec.ids()).toEqual(['hi-top', 'lo-top', 'hi-0', 'lo-0', 'hi-1', 'lo-1', 'hi-2', 'lo-2', 'hi-3', 'lo-3']);
  });
});
