/**
 * Priorities (issue 9): tasks that all wait for a worker are started highest priority first,
 * FIFO within one priority, and negative priorities after 0, whether they waited routed (another
 * worker's claims routed them while no worker served their function) or still in `new-task` (no
 * worker at all when they were submitted).
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { quiet, recorder, recordingWorker } from './helpers/order.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

/** submitted in this order; priorities 3 apart, so a routing spread under 3 s cannot reorder them */
const SUBMITTED: [string, number][] = [
  ['zero-1', 0],
  ['five-1', 5],
  ['minus-1', -3],
  ['zero-2', 0],
  ['ten-1', 10],
  ['five-2', 5],
  ['minus-2', -3],
  ['zero-3', 0],
  ['ten-2', 10],
  ['bottom', -1000],
  ['top', 1000],
];
/** highest priority first, FIFO within a priority */
const EXPECTED = ['top', 'ten-1', 'ten-2', 'five-1', 'five-2', 'zero-1', 'zero-2', 'zero-3', 'minus-1', 'minus-2', 'bottom'];

async function submitAll(c: Client): Promise<void> {
  for (const [id, priority] of SUBMITTED) await c.submit('f', { id }, { id, priority });
}

/** start a worker for f with concurrency 1 (starts are in claim order) and let it run everything */
async function runAll(o: Record<string, unknown>): Promise<string[]> {
  const rec = recorder();
  const w = recordingWorker(o, 'f', rec);
  cleanup.push(() => w.stop());
  await w.start();
  await rec.started(SUBMITTED.length);
  return rec.ids();
}

describe('tasks waiting for a worker that serves their function', () => {
  it('routed meanwhile by a worker of another function: started highest priority first, FIFO within a priority, negative after 0', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    // a worker that serves only `other`: its claims route f's entries into f's structure
    const router = new Worker({ port: 0, redis: o, logger: quiet });
    router.addTaskFunction('other', () => null);
    cleanup.push(() => router.stop());
    await router.start();
    await submitAll(c);
    await until(async () => (await c.stats()).functions.f?.queued === SUBMITTED.length, 'f tasks routed');
    expect(await redis.llen(keys.newQueue)).toBe(0);
    expect(await runAll(o)).toEqual(EXPECTED);
  });

  it('submitted with no worker at all (priority 0 still in new-task, the others placed at once): the first claim does not start the oldest before higher priorities', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    await submitAll(c);
    expect(await redis.llen(keys.newQueue)).toBe(SUBMITTED.filter(([, p]) => p === 0).length);
    expect(await runAll(o)).toEqual(EXPECTED);
  });

  it('a priority given by a hand-pushed entry counts as one given to submit', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    // the seed's form, with "priority" (0 written out, or left out)
    const entries = SUBMITTED.map(([id, priority]) => JSON.stringify({ id, function: 'f', data: '{}', ...(priority !== 0 || id === 'zero-2' ? { priority } : {}) }));
    await redis.lpush(keys.newQueue, ...entries);
    expect(await runAll(o)).toEqual(EXPECTED);
  });
});
