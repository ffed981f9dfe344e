/**
 * Within one function, one priority and one group, tasks start in the order they were submitted
 * (README, Order), delayed ones too: tasks submitted with one delay in one call (submits made in
 * one tick, or one submitMany: one submit.lua call, one Redis now) fall due at the same ms, and
 * start in the order they were submitted, not in the order of their ids (Q:delayed orders equal
 * due times by id). Each takes its routing number at its submit (submit.lua); tasks due at one
 * ms are promoted together, and when more are due at one ms than a claim promotes, no claim
 * takes anything until they all are (lib/delayed.lua, claim.lua).
 */
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { spawnWorker } from './helpers/processes.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

const N = 20;

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
});
