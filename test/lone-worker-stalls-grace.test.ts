/**
 * requeue.lua and renew.lua hold every requeue for one taskTimeout after "the whole swarm went
 * silent", which is meant for an outage of Redis. When that was judged by overdue workers alone
 * (the one with the latest overdue time missed 3 heartbeats), a swarm whose live workers are few
 * (one, here) went "silent" each time that worker's event loop was held for more than 3
 * heartbeats (a task function doing synchronous work, a long GC), and each such silence started
 * a new grace: a worker that stalled like that more often than once per taskTimeout held the
 * requeue of a dead worker's tasks for as long as it did so. Now a silence also needs Redis to
 * have seen no heartbeat and no sweep for over taskTimeout / 2 (lib/swarm-silence.lua).
 */
import { expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Monitor } from '../src/index.js';
import { renewLeases } from '../src/effects/leases.js';
import { requeueStale } from '../src/effects/sweep.js';
import { loadLibrary } from '../src/scripts.js';
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
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** a RUNNING task whose worker died long ago, as claim.lua writes it */
async function deadClaim(keys: ReturnType<typeof keysFor>, id: string, at = 1) {
  await redis.hset(keys.task(id), { state: 'RUNNING', update: String(at), start: String(at), attempt: '1', claims: '1', lease: '1:gone:1', worker: 'gone:1', function: 'f', data: JSON.stringify({ id, function: 'f' }) });
  await redis.zadd(keys.leases, at, id);
  await redis.sadd(keys.taskSet, id);
}

it('scripts: a dead worker\'s task is requeued though the one live worker heartbeats late again and again', async () => {
  const keys = keysFor('stall:');
  await loadLibrary(redis);
  await deadClaim(keys, 'x');
  // the live worker (heartbeatInterval 100) heartbeats every 400 ms: its loop is held 300 ms+ each time
  await renewLeases(redis, keys, 'live:1', [], 100);
  let requeued = false;
  for (let i = 0; i < 12 && !requeued; i++) {
    await sleep(400);
    requeued = (await requeueStale(redis, keys, 1000, 100, 5, 'm')).requeued.includes('x');
    await renewLeases(redis, keys, 'live:1', [], 100);
  }
  // 4.8 s: nearly five taskTimeouts since x went stale
  expect(await redis.hget(keys.task('x'), 'state')).toBe('QUEUED');
});

it('processes: a dead worker\'s task is requeued while the one live worker runs tasks that hold its event loop', async () => {
  const o = server.options();
  const keys = keysFor(o.keyPrefix);
  const w: WorkerProcess = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 200 }, [], { busy: {} });
  cleanup.push(() => w.kill('SIGKILL'));
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  // synchronous work of 0.8 s (4 heartbeats), one task every 1.5 s
  let stop = false;
  const producing = (async () => {
    while (!stop) {
      await c.submit('busy', { ms: 800 });
      await sleep(1500);
    }
  })();
  cleanup.push(async () => {
    stop = true;
    await producing;
  });
  const m = new Monitor({ redis: o, logger: quiet, taskTimeout: 3000, checkTaskInterval: 100 });
  cleanup.push(() => m.stop());
  await m.start();
  await sleep(4000);
  // another worker claimed x, and died at once: x is stale 3 s later, requeued then, or at the
  // latest a grace (3 s) after that
  const [s, us] = await redis.time();
  await deadClaim(keys, 'x', Number(s) * 1000 + Math.floor(Number(us) / 1000));
  await until(async () => (await redis.hget(keys.task('x'), 'state')) === 'QUEUED', 'x requeued', 12_000).catch(() => {});
  // (what held it: a grace, started anew at each of the live worker's stalls)
  expect({ x: await redis.hget(keys.task('x'), 'state'), grace: (await redis.pttl(keys.grace)) > 0 }).toEqual({ x: 'QUEUED', grace: false });
});
