/**
 * Pause and resume (issue 9): `client.pause()` stops new claims across the swarm at once while
 * running tasks go on to their end; tasks submitted meanwhile (or pushed by hand) stay QUEUED;
 * `resume()` makes idle workers start them at once, not at their next poll. `pause(fn)` holds one
 * function and lets the others run. `stats()` says what is paused.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client } from '../src/index.js';
import { spawnWorker, type WorkerProcess } from './helpers/processes.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

/** Far longer than any wait below: a task that starts in time was not found by a poll. */
const POLL = 30_000;
/**
 * A start this soon after resume was woken for (the workers' first poll is about POLL after they
 * started, seconds before): room for a loaded machine's wake, claim and output line.
 */
const AT_ONCE = 3000;

async function workers(o: object, functions: Record<string, object>[], concurrency: number): Promise<WorkerProcess[]> {
  const ps = await Promise.all(functions.map((fns) => spawnWorker({ port: 0, redis: o, concurrency, fetchTaskInterval: POLL }, [], fns as Record<string, { concurrency?: number }>)));
  for (const p of ps) cleanup.push(() => p.kill());
  return ps;
}

function client(o: { keyPrefix: string }) {
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return { c, keys: keysFor(o.keyPrefix) };
}

/** when (parent's Date.now()) any of `ps` said it started task `id` */
function startedAt(ps: WorkerProcess[], id: string): number | undefined {
  for (const p of ps) {
    const i = p.lines.findIndex((l) => l.startsWith(`STARTED ${id} `));
    if (i >= 0) return p.times[i];
  }
  return undefined;
}

const started = (ps: WorkerProcess[]) => ps.flatMap((p) => p.lines.filter((l) => l.startsWith('STARTED ')).map((l) => l.split(' ')[1]!));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('pause() and resume()', () => {
  it('pause stops new claims across the workers at once while running tasks end; resume starts the queued ones at once', async () => {
    const o = server.options();
    const { c, keys } = client(o);
    const pool = await workers(o, [{ job: {} }, { job: {} }], 2);
    const first: string[] = [];
    for (let i = 0; i < 6; i++) first.push(await c.submit('job', { ms: 800 }, { id: `j${i}` }));
    // four slots in the swarm: four run, two wait
    await until(() => started(pool).length === 4, 'four tasks running');
    await c.pause();
    const pausedAt = Date.now();
    const later = [await c.submit('job', { ms: 50 }, { id: 'k0' })];
    await redis.lpush(keys.newQueue, JSON.stringify({ id: 'k1', function: 'job', data: { ms: 50 } }));
    later.push('k1');
    const running = started(pool);
    // the running ones go on to their end
    for (const id of running) expect(await c.wait(id, { timeout: 5000 })).toMatchObject({ state: 'END', outcome: 'succeeded', attempt: 1 });
    await sleep(500);
    // their slots stayed free: nothing was claimed since the pause
    expect(started(pool).sort()).toEqual(running.sort());
    const waiting = first.filter((id) => !running.includes(id)).concat(later);
    for (const id of waiting) expect(await c.get(id), id).toMatchObject({ state: 'QUEUED', attempt: 0 });
    const stats = await c.stats();
    expect(stats.paused).toBe(true);
    expect(stats.functions.job).toEqual({ queued: 4, running: 0, delayed: 0, workers: 2, paused: true });
    expect(Date.now() - pausedAt).toBeLessThan(POLL);

    const resumed = Date.now();
    await c.resume();
    for (const id of waiting) {
      expect(await c.wait(id, { timeout: 5000 })).toMatchObject({ state: 'END', outcome: 'succeeded', attempt: 1 });
      expect(startedAt(pool, id)! - resumed, `${id} started at once on resume`).toBeLessThan(AT_ONCE);
      expect(await redis.hget(keys.task(id), 'claims')).toBe('1');
    }
    expect(started(pool)).toHaveLength(8);
    const after = await c.stats();
    expect(after.paused).toBe(false);
    expect(after.functions.job).toEqual({ queued: 0, running: 0, delayed: 0, workers: 2, paused: false });
  });

  it('pause(fn) holds that function alone: the others run, on the same workers; resume(fn) starts its tasks at once', async () => {
    const o = server.options();
    const { c } = client(o);
    const pool = await workers(o, [{ mail: {}, resize: {} }, { mail: {} }], 2);
    await c.pause('mail');
    const mail = [await c.submit('mail', { ms: 10 }, { id: 'm0' }), await c.submit('mail', { ms: 10 }, { id: 'm1' })];
    const resize = [await c.submit('resize', { ms: 10 }, { id: 'r0' }), await c.submit('resize', { ms: 10 }, { id: 'r1' })];
    for (const id of resize) expect(await c.wait(id, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded' });
    await sleep(300);
    for (const id of mail) expect(await c.get(id), id).toMatchObject({ state: 'QUEUED', attempt: 0 });
    expect(started(pool).sort()).toEqual(resize);
    const stats = await c.stats();
    expect(stats.paused).toBe(false);
    expect(stats.functions.mail).toEqual({ queued: 2, running: 0, delayed: 0, workers: 2, paused: true });
    expect(stats.functions.resize).toMatchObject({ queued: 0, workers: 1, paused: false });

    // resuming another function, or the swarm, does not resume it
    await c.resume('resize');
    await c.resume();
    await sleep(300);
    for (const id of mail) expect(await c.get(id), id).toMatchObject({ state: 'QUEUED' });

    const resumed = Date.now();
    await c.resume('mail');
    for (const id of mail) {
      expect(await c.wait(id, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', attempt: 1 });
      expect(startedAt(pool, id)! - resumed, `${id} started at once on resume`).toBeLessThan(AT_ONCE);
    }
    expect((await c.stats()).functions.mail).toEqual({ queued: 0, running: 0, delayed: 0, workers: 2, paused: false });
  });

  it('the swarm paused holds every function, a function paused too stays paused after resume()', async () => {
    const o = server.options();
    const { c } = client(o);
    const pool = await workers(o, [{ mail: {}, resize: {} }], 2);
    await c.pause('mail');
    await c.pause();
    const ids = [await c.submit('mail', { ms: 10 }, { id: 'm' }), await c.submit('resize', { ms: 10 }, { id: 'r' })];
    await sleep(300);
    const stats = await c.stats();
    expect(stats.paused).toBe(true);
    expect(stats.functions.mail!.paused).toBe(true);
    expect(stats.functions.resize!.paused).toBe(true);
    for (const id of ids) expect(await c.get(id), id).toMatchObject({ state: 'QUEUED' });
    const resumed = Date.now();
    await c.resume();
    expect(await c.wait('r', { timeout: 5000 })).toMatchObject({ outcome: 'succeeded' });
    expect(startedAt(pool, 'r')! - resumed).toBeLessThan(AT_ONCE);
    await sleep(300);
    expect(await c.get('m')).toMatchObject({ state: 'QUEUED' });
    expect((await c.stats()).functions.mail).toMatchObject({ queued: 1, paused: true });
    // a function paused that nothing serves or queues is still reported
    await c.pause('ghost');
    expect((await c.stats()).functions.ghost).toEqual({ queued: 0, running: 0, delayed: 0, workers: 0, paused: true });
  });
});
