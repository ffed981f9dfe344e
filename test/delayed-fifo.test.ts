/**
 * Within one function, one priority and one group, tasks start in the order they were submitted
 * (README, Order), delayed ones too: tasks submitted with one delay in one call (submits made in
 * one tick, or one submitMany: one submit.lua call, one Redis now) fall due at the same ms, and
 * start in the order they were submitted, not in the order of their ids. Each is placed at its
 * submit (its member numbered then, lib/queue.lua), and `new-task:delayed:placed` holds it under that
 * member, so that equal due times sort in submission order (submit.lua, lib/delayed.lua). When
 * more are due than a claim promotes, what was queued after they fell due waits for them
 * (claim.lua), and the tasks already promoted go on being taken.
 */
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { Worker } from '../src/index.js';
import { spawnWorker } from './helpers/processes.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

const N = 20;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe('delayed tasks of one function, priority and group, due at the same instant', () => {
  it('start in the order they were submitted (submits made together, one delay)', async () => {
    const o = server.options();
    const w = await spawnWorker({ port: 0, redis: o, concurrency: 1 }, [], ['echo']);
    cleanup.push(() => w.kill());
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    // made in one tick: one submit.lua call, one Redis now, so one due time for all
    const ids = await Promise.all(Array.from({ length: N }, (_, i) => c.submit('echo', { i }, { delay: 1000 })));
    for (const id of ids) await c.wait(id, { timeout: 15_000 });
    const started = w.lines.filter((l) => l.startsWith('STARTED ')).map((l) => l.split(' ')[1]);
    expect(started).toEqual(ids);
  }, 30_000);

  it('start in the order they were submitted (one submitMany, one delay, ids given)', async () => {
    const o = server.options();
    const w = await spawnWorker({ port: 0, redis: o, concurrency: 1 }, [], ['echo']);
    cleanup.push(() => w.kill());
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    // ids given by the producer, e.g. its own record ids: here counting down
    const ids = await c.submitMany(Array.from({ length: N }, (_, i) => ({ fn: 'echo', data: { i }, options: { id: `job-${String(N - i).padStart(3, '0')}`, delay: 1000 } })));
    for (const id of ids) await c.wait(id, { timeout: 15_000 });
    const started = w.lines.filter((l) => l.startsWith('STARTED ')).map((l) => l.split(' ')[1]);
    expect(started).toEqual(ids);
  }, 30_000);

  it('start in the order they were submitted when more fall due at once than a claim promotes (250, ids counting down)', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const M = 250;
    const ids = await c.submitMany(Array.from({ length: M }, (_, i) => ({ fn: 'echo', data: { i }, options: { id: `many-${String(M - i).padStart(3, '0')}`, delay: 1000 } })));
    const due = new Set(await Promise.all(ids.map(async (id) => (await c.get(id))?.runAt)));
    expect(due.size, 'one due time for all').toBe(1);
    const w = await spawnWorker({ port: 0, redis: o, concurrency: 1 }, [], ['echo']);
    cleanup.push(() => w.kill());
    for (const id of ids) await c.wait(id, { timeout: 30_000 });
    const started = w.lines.filter((l) => l.startsWith('STARTED ')).map((l) => l.split(' ')[1]);
    expect(started).toEqual(ids);
  }, 60_000);
  // Two ways a task submitted after the due ones, once they fell due, could start before some of
  // them while promotion is behind: taken at once as it arrives (the function's queue holds
  // nothing promoted yet: the batch promoted was another function's), or taken by a claim larger
  // than a promotion batch, after the promoted ones.
  for (const { name, concurrency, others } of [
    { name: 'a batch promoted of another function first, a worker of concurrency 1', concurrency: 1, others: 150 },
    { name: 'a claim larger than a promotion batch (concurrency 300)', concurrency: 300, others: 0 },
  ]) {
    it(`start before a task submitted after they fell due, while more are due than a claim promotes: ${name}`, async () => {
      const o = server.options();
      const c = new Client({ redis: o });
      cleanup.push(() => c.close());
      const M = 250;
      const first = Array.from({ length: others }, (_, i) => ({ fn: 'other', data: { i }, options: { id: `other-${i}`, delay: 500 } }));
      const due = Array.from({ length: M }, (_, i) => ({ fn: 'echo', data: { i }, options: { id: `due-${String(M - i).padStart(3, '0')}`, delay: 500 } }));
      const ids = (await c.submitMany([...first, ...due])).slice(others);
      const runAt = (await c.get(ids[0]!))!.runAt!;
      await until(async () => (await c.get(ids[0]!))!.state === 'DELAYED' && Date.now() > runAt + 300, 'fallen due', 5000);
      const late = await c.submit('echo', 'late');
      const w = new Worker({ port: 0, redis: o, logger: quiet, concurrency });
      const started: string[] = [];
      w.addTaskFunction('echo', (t) => void started.push(t.id));
      cleanup.push(() => w.stop());
      await w.start();
      await c.wait(late, { timeout: 20_000 });
      for (const id of ids) await c.wait(id, { timeout: 20_000 });
      expect(started).toEqual([...ids, late]);
    }, 40_000);
  }
});
