/**
 * The functions a worker serves take turns (docs/queue-layout.md, "across functions"): each claim
 * starts at the next function of the worker's list, so a steady stream of one function's tasks
 * does not keep another function's queued tasks waiting, even when each new entry could be
 * claimed straight from new-task.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Worker } from '../src/index.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { pushEntries, quiet, recorder, seedEntry } from './helpers/order.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe('a worker of concurrency 1 serving f and g', () => {
  it('with f tasks queued and a g task arriving before each of its claims: f and g take turns: 8 to 12 of the first 20 starts each, never more than three of one in a row', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const rec = recorder();
    let next = 0;
    const w = new Worker({ port: 0, redis: o, logger: quiet, concurrency: 1 });
    w.addTaskFunction('f', async (t) => {
      rec.starts.push({ id: t.id, at: Date.now() });
      await new Promise((r) => setTimeout(r, 10));
    });
    // each g task submits the next one while it runs: at every claim, one g entry waits in new-task
    w.addTaskFunction('g', async (t) => {
      rec.starts.push({ id: t.id, at: Date.now() });
      if (next < 20) await c.submit('g', null, { id: `g-${next++}` });
      await new Promise((r) => setTimeout(r, 10));
    });
    cleanup.push(() => w.stop());
    await w.start();
    // (the client connected first: its first submit, below, must not pay for that while f runs on)
    await c.get('none');
    // ten f tasks in one push, of a group, so that the claim routes them (plain entries of a calm
    // swarm are taken in their order from new-task instead, where no turn is needed): the first
    // is claimed at once, nine wait in f's structure
    await pushEntries(redis, o.keyPrefix, Array.from({ length: 10 }, (_, i) => seedEntry(`f-${i}`, 'f', { group: 'x' })));
    await rec.started(1);
    await c.submit('g', null, { id: `g-${next++}` });
    await rec.started(20);
    const first = rec.ids().slice(0, 20);
    const fs = first.filter((id) => id.startsWith('f-')).length;
    console.log(`functions: first 20 starts ${first.join(' ')}`);
    // turns (each claim starts at the next function): about half each, not one f in 20, and
    // interleaved, not ten of one then ten of the other
    expect(fs).toBeGreaterThanOrEqual(8);
    expect(fs).toBeLessThanOrEqual(12);
    // (counted from g's first start: before it, only f is queued, and f runs alone as it should;
    // a loaded machine can take a few f starts to submit that first g)
    let longestRun = 0;
    for (let i = first.findIndex((id) => id.startsWith('g-')), run = 0; i >= 0 && i < first.length; i++) {
      run = i > 0 && first[i]![0] === first[i - 1]![0] ? run + 1 : 1;
      longestRun = Math.max(longestRun, run);
    }
    expect(longestRun).toBeLessThanOrEqual(3);
  });
});

describe('a worker of several functions, routing a window that holds groups', () => {
  it("takes a function's task queued earlier in the same claim before a later one of the same function: f-a (group a) starts before f-b (group b)", async () => {
    const o = server.options();
    const rec = recorder();
    const w = new Worker({ port: 0, redis: o, logger: quiet, concurrency: 1 });
    for (const fn of ['f', 'g']) {
      w.addTaskFunction(fn, async (t) => {
        rec.starts.push({ id: t.id, at: Date.now() });
      });
    }
    cleanup.push(() => w.stop());
    // both in the window of the first claim: f-a is routed into f's queue (a later entry of f
    // takes the next turn), so f-b, though nothing after it comes first, must wait behind it
    await pushEntries(redis, o.keyPrefix, [seedEntry('f-a', 'f', { group: 'a' }), seedEntry('f-b', 'f', { group: 'b' })]);
    await w.start();
    await rec.started(2);
    expect(rec.ids()).toEqual(['f-a', 'f-b']);
  });
});
