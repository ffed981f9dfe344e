/**
 * Cancel, dedupe keys and bulk submit (issue 8).
 * - `cancel(id)`: a task queued (on `new-task` or placed in its function's queue) or delayed is
 *   removed and ends `cancelled`, and no worker ever runs it; a running one is stopped (ends
 *   `stopped`); an ended one is left alone; an unknown id is a TaskNotFoundError.
 * - `key`: while a task submitted with a key is queued, delayed or running, another submit with
 *   that key returns its id and queues nothing; once it has ended (or was cancelled), the key is
 *   free again, and Redis keeps nothing of it.
 * - `submitMany`: one round trip, all or nothing.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, ConfigError, DuplicateTaskError, TaskNotFoundError } from '../src/index.js';
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

const POLL = 30_000;

async function worker(o: object, functions?: string[]): Promise<WorkerProcess> {
  const w = await spawnWorker({ port: 0, redis: o, concurrency: 4, fetchTaskInterval: POLL, heartbeatInterval: 200 }, [], functions);
  cleanup.push(() => w.kill());
  return w;
}

function client(o: object): Client {
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return c;
}

const ran = (w: WorkerProcess, id: string) => w.lines.some((l) => l.startsWith(`STARTED ${id} `));

describe('cancel', () => {
  it('removes a task that waits, whichever way it waits, and no worker runs it afterwards', async () => {
    const o = server.options();
    const c = client(o);
    const k = keysFor(o.keyPrefix);
    const seedKind = await c.submit('echo', 'on new-task');
    const placed = await c.submit('echo', 'in its group', { group: 'g1', priority: 5 });
    const delayed = await c.submit('echo', 'later', { delay: 300 });
    const deadBefore = (await c.stats()).dead;
    const ended = Promise.all([seedKind, placed, delayed].map((id) => c.wait(id, { timeout: 5000 })));
    for (const id of [seedKind, placed, delayed]) expect(await c.cancel(id)).toBe('cancelled');
    for (const t of await ended) expect(t).toMatchObject({ state: 'END', outcome: 'cancelled' });
    // a worker, and time for the delayed one to fall due: nothing of them runs, nothing is parked
    const w = await worker(o);
    const after = await c.submit('echo', 'after');
    await c.wait(after, { timeout: 5000 });
    await new Promise((r) => setTimeout(r, 500));
    for (const id of [seedKind, placed, delayed]) {
      expect(ran(w, id), `${id} ran`).toBe(false);
      expect(await c.get(id)).toMatchObject({ state: 'END', outcome: 'cancelled' });
    }
    expect((await c.stats()).dead).toBe(deadBefore);
    expect(await redis.llen(k.newQueue)).toBe(0);
    expect(await redis.zcard(k.placedDelayed)).toBe(0);
    expect((await c.stats()).functions.echo).toMatchObject({ queued: 0, delayed: 0 });
  });

  it('stops a running task (it ends stopped), leaves an ended one alone, and refuses an unknown id', async () => {
    const o = server.options();
    await worker(o);
    const c = client(o);
    const id = await c.submit('sleep', { ms: 20_000 });
    await until(async () => (await c.get(id))?.state === 'RUNNING', 'running');
    expect(await c.cancel(id)).toBe('stopping');
    expect(await c.wait(id, { timeout: 5000 })).toMatchObject({ outcome: 'stopped' });
    expect(await c.cancel(id)).toBe('ended');
    expect(await c.get(id)).toMatchObject({ outcome: 'stopped' });
    await expect(c.cancel('no-such-task')).rejects.toBeInstanceOf(TaskNotFoundError);
  });

  it('of a retry waiting its backoff ends it cancelled: no more attempts', async () => {
    const o = server.options();
    const w = await worker(o);
    const c = client(o);
    const id = await c.submit('flaky', { fails: 5 }, { attempts: 5, backoff: 1000 });
    await until(async () => (await c.get(id))?.state === 'DELAYED', 'retry waiting');
    expect(await c.cancel(id)).toBe('cancelled');
    await new Promise((r) => setTimeout(r, 1500));
    expect(w.lines.filter((l) => l.startsWith(`STARTED ${id} `))).toEqual([`STARTED ${id} 1`]);
    expect(await c.get(id)).toMatchObject({ state: 'END', outcome: 'cancelled', history: [expect.objectContaining({ attempt: 1, outcome: 'failed' })] });
  });
});

describe('dedupe keys', () => {
  it('return the task that holds the key while it is queued, delayed or running; free once it ends', async () => {
    const o = server.options();
    const c = client(o);
    const k = keysFor(o.keyPrefix);
    // queued (no worker yet)
    const first = await c.submit('sleep', { ms: 600 }, { key: 'invoice-42' });
    expect(await c.submit('sleep', { ms: 600 }, { key: 'invoice-42' })).toBe(first);
    // running
    const w = await worker(o);
    await w.waitFor(new RegExp(`^STARTED ${first} 1$`));
    expect(await c.submit('sleep', { ms: 600 }, { key: 'invoice-42' })).toBe(first);
    await c.wait(first, { timeout: 5000 });
    // ended: the key is free, and nothing of it is left in Redis
    expect(await redis.hlen(k.dedupe)).toBe(0);
    const second = await c.submit('echo', 2, { key: 'invoice-42', delay: 400 });
    expect(second).not.toBe(first);
    // delayed
    expect(await c.submit('echo', 3, { key: 'invoice-42' })).toBe(second);
    expect(await c.cancel(second)).toBe('cancelled');
    expect(await redis.hlen(k.dedupe)).toBe(0);
    const third = await c.submit('echo', 4, { key: 'invoice-42' });
    expect(third).not.toBe(second);
    expect(await c.wait(third, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', result: 4 });
    expect(w.lines.filter((l) => l.startsWith('STARTED ')).length).toBe(2);
  });

  it('two submits racing with one key queue one task', async () => {
    const o = server.options();
    const c1 = client(o);
    const c2 = client(o);
    const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? c1 : c2).submit('echo', i, { key: 'race' })));
    expect(new Set(ids).size).toBe(1);
  });
});

describe('submitMany', () => {
  it('queues every task in order, in one call, and each runs once', async () => {
    const o = server.options();
    const c = client(o);
    const ids = await c.submitMany(Array.from({ length: 2500 }, (_, i) => ({ fn: 'echo', data: i, options: i % 3 === 0 ? { group: `g${i % 7}` } : {} })));
    expect(new Set(ids).size).toBe(2500);
    const w = await worker(o);
    const ends = await Promise.all(ids.map((id) => c.wait(id, { timeout: 30_000 })));
    expect(ends.map((t) => t.result)).toEqual(ids.map((_, i) => i));
    // (the worker's lines reach this process after Redis has the ends: wait for them, then count)
    const started = () => w.lines.filter((l) => l.startsWith('STARTED ')).length;
    await until(() => started() >= 2500, 'every start printed');
    await new Promise((r) => setTimeout(r, 200));
    expect(started()).toBe(2500);
  });

  it('is all or nothing: a taken id, or one given to two tasks, queues none of the batch', async () => {
    const o = server.options();
    const c = client(o);
    const k = keysFor(o.keyPrefix);
    await c.submit('echo', 0, { id: 'taken' });
    const before = await redis.dbsize();
    const llen = await redis.llen(k.newQueue);
    await expect(c.submitMany([{ fn: 'echo', data: 1 }, { fn: 'echo', data: 2, options: { id: 'taken' } }, { fn: 'echo', data: 3, options: { group: 'g' } }])).rejects.toBeInstanceOf(DuplicateTaskError);
    await expect(c.submitMany([{ fn: 'echo', options: { id: 'twice' } }, { fn: 'echo', data: 2, options: { id: 'twice' } }])).rejects.toBeInstanceOf(DuplicateTaskError);
    expect(await redis.dbsize()).toBe(before);
    expect(await redis.llen(k.newQueue)).toBe(llen);
  });

  it('checks every task before writing any: a bad option names its index', async () => {
    const o = server.options();
    const c = client(o);
    const before = await redis.dbsize();
    await expect(c.submitMany([{ fn: 'echo' }, { fn: 'echo', options: { attempts: -1 } }])).rejects.toThrow(/submitMany\[1\]: attempts must be/);
    await expect(c.submitMany([{ fn: 'echo' }, { fn: '' }])).rejects.toThrow(/submitMany\[1\]: function name/);
    await expect(c.submitMany([{ fn: 'echo', options: { delay: -1 } }])).rejects.toBeInstanceOf(ConfigError);
    await expect(c.submitMany('x' as never)).rejects.toThrow(/submitMany: takes an array/);
    expect(await redis.dbsize()).toBe(before);
    expect(await c.submitMany([])).toEqual([]);
  });
});
