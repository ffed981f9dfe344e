/**
 * A Redis that closes idle connections (`timeout` in redis.conf, or a proxy's idle timeout) must
 * not stop the monitor. It once did: the monitor's one connection sits idle between sweeps (up
 * to taskTimeout / 4) and through the whole grace that follows a lost connection (taskTimeout);
 * closed for being idle, it read as Redis lost, went to probing, found Redis back and began a
 * new grace, idle again, closed again. From the first such close on it never left grace: no
 * schedule fired and no dead worker's task was requeued (its limited slots held for good). With
 * timeout 300 and taskTimeout 10 min, one Redis restart was enough to start the loop.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Monitor, type FiringResult } from '../src/index.js';
import { spawnWorker } from './helpers/processes.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const silent = { debug() {}, info() {}, warn() {}, error() {} };
/** Redis closes a connection idle for more than this many seconds */
const IDLE_S = 2;

async function idleTimeout(): Promise<void> {
  await redis.config('SET', 'timeout', String(IDLE_S));
  cleanup.push(() => redis.config('SET', 'timeout', '0'));
}

async function monitor(o: object, extra: object): Promise<FiringResult['firings']> {
  const m = new Monitor({ redis: o, logger: silent, ...extra });
  const firings: FiringResult['firings'] = [];
  m.on('schedules', (r: FiringResult) => firings.push(...r.firings));
  await m.start();
  cleanup.push(() => m.stop());
  return firings;
}

function client(o: object): Client {
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return c;
}

describe('a Redis that closes idle connections', () => {
  it('sweeps spaced wider than its timeout: the monitor fires each tick all the same', async () => {
    const o = server.options();
    await idleTimeout();
    const c = client(o);
    // every tick 4 s apart, sweeps 5 s apart at most: idle 4 s between firings, twice the timeout
    await c.schedule('wide', { every: 4000 }, 'f', null);
    const firings = await monitor(o, { taskTimeout: 20_000, checkTaskInterval: 5000 });
    // (five ticks fall in 20 s; each fires within a few ms of its tick while the monitor is active)
    await new Promise((r) => setTimeout(r, 20_000));
    expect(firings.filter((f) => f.outcome === 'fired').length).toBeGreaterThanOrEqual(4);
  }, 40_000);

  it('once its connection was cut, the monitor leaves its grace, fires again and requeues a dead worker’s task', async () => {
    const o = server.options();
    const c = client(o);
    await c.setLimit({ function: 'sleep' }, { concurrency: 1 });
    // a grace (taskTimeout) four times the idle timeout; sweeps 1 s apart keep the active monitor busy
    const firings = await monitor(o, { taskTimeout: 8000, checkTaskInterval: 1000 });
    await c.schedule('often', { every: 500 }, 'f', null);
    await until(() => firings.length > 0, 'a first firing');

    const w = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 200, concurrency: 1 });
    const held = await c.submit('sleep', { ms: 120_000 });
    await w.waitFor(new RegExp(`^STARTED ${held} 1$`));
    const next = await c.submit('sleep', { ms: 0 });
    await w.kill('SIGKILL');

    await idleTimeout();
    // every connection but the test's own cut, as a proxy or a Redis restart would
    await redis.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    const cut = firings.length;

    // grace is one taskTimeout (8 s), then the task's lease is long stale: requeued at once
    await until(async () => (await c.get(held))?.attempt === 2 || (await c.get(held))?.state === 'QUEUED', 'the dead worker’s task requeued', 25_000, 200);
    await until(() => firings.length > cut + 3, 'firings after the cut', 10_000, 100);
    // its slot came back: with the requeued task cancelled, the one queued behind the limit runs
    expect(await redis.hget(`${o.keyPrefix}new-task:running`, 'f:sleep')).toBeNull();
    expect(await c.cancel(held)).toBe('cancelled');
    const w2 = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 200, concurrency: 2 });
    cleanup.push(() => w2.kill('SIGKILL'));
    expect(await c.wait(next, { timeout: 20_000 })).toMatchObject({ outcome: 'succeeded' });
  }, 70_000);
});
