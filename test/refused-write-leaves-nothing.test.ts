/**
 * A script Redis refuses part-way (a key of the swarm's damaged by hand: WRONGTYPE) keeps what
 * it wrote before the refusal: Redis has no rollback. A script that makes a task therefore
 * writes its hash last, after every write that can be refused: a refused submit or firing leaves
 * no task that says QUEUED while it is in no queue (`get` answering QUEUED for good, its id taken:
 * the same submit made again, once the key is mended, refused as a duplicate).
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';
import { startWatchedMonitor } from './helpers/watched-monitor.js';
import { spawnWorker } from './helpers/processes.js';
import { startSteadyWorker } from './helpers/running-task.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** a Client under a key prefix of its own, and the swarm's keys there */
function swarm() {
  const o = server.options();
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return { o, c, keys: keysFor(o.keyPrefix) };
}

/** the task hashes Redis holds under `keyPrefix` */
async function taskHashes(keyPrefix: string): Promise<string[]> {
  return (await redis.keys(`${keyPrefix}task-*`)).filter((k) => !k.endsWith('-events'));
}

describe('a refused write leaves no half-made task', () => {
  it("a grouped submit refused at its function's queue: nothing of it stays, and it goes through once mended", async () => {
    const { o, c, keys } = swarm();
    await redis.set(keys.functionQueue('fg', 'groups'), 'not a sorted set');
    await expect(c.submit('fg', 1, { id: 'grouped-1', group: 'g' })).rejects.toThrow(/WRONGTYPE/);
    expect(await c.get('grouped-1')).toBeNull();
    expect(await taskHashes(o.keyPrefix)).toEqual([]);
    await redis.del(keys.functionQueue('fg', 'groups'));
    await expect(c.submit('fg', 1, { id: 'grouped-1', group: 'g' })).resolves.toBe('grouped-1');
    expect((await c.get('grouped-1'))?.state).toBe('QUEUED');
  });

  it('a submit refused at the queue: its id is not left marked queued', async () => {
    const { c, keys } = swarm();
    await redis.set(keys.newQueue, 'not a list');
    await expect(c.submit('fs', 1, { id: 'seed-1' })).rejects.toThrow(/WRONGTYPE/);
    expect(await c.get('seed-1')).toBeNull();
    expect(await redis.sismember(keys.queued, 'seed-1')).toBe(0);
    await redis.del(keys.newQueue);
    await expect(c.submit('fs', 1, { id: 'seed-1' })).resolves.toBe('seed-1');
    expect((await c.get('seed-1'))?.state).toBe('QUEUED');
  });

  it("a schedule's firing refused at its function's queue leaves no task of the tick", async () => {
    const { o, c, keys } = swarm();
    await c.schedule('broken', { every: 300 }, 'fb', null, { group: 'g' });
    await redis.set(keys.functionQueue('fb', 'groups'), 'not a sorted set');
    const { firings } = await startWatchedMonitor({ redis: o, taskTimeout: 4000, checkTaskInterval: 200 }, cleanup);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && firings.filter((f) => f.outcome === 'failed').length < 2) await sleep(50);
    expect(firings.filter((f) => f.outcome === 'failed').length).toBeGreaterThanOrEqual(2);
    expect(await taskHashes(o.keyPrefix)).toEqual([]);
  }, 15_000);

  it("an entry pushed by a seed producer for a function whose queue is damaged: the entries after it are not lost", async () => {
    const { o, c, keys } = swarm();
    await redis.set(keys.functionQueue('fx', 'groups'), 'not a sorted set');
    // (the seed's producers push the entry itself: the claim routes it to its function's queue)
    await redis.lpush(keys.newQueue, JSON.stringify({ id: 'x-1', function: 'fx', group: 'g', data: 1 }));
    const ids = ['a-1', 'a-2', 'a-3', 'a-4', 'a-5'];
    for (const id of ids) await redis.lpush(keys.newQueue, JSON.stringify({ id, function: 'fa', data: 1 }));
    const ran: string[] = [];
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    const worker = new Worker({ port: 0, redis: o, concurrency: 2, fetchTaskInterval: 200, logger: quiet });
    worker.addTaskFunction('fa', (t) => void ran.push(t.id));
    cleanup.push(() => worker.stop());
    await worker.start();
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && ran.length < ids.length) await sleep(50);
    expect(ran.sort()).toEqual(ids);
    // the refused entry is parked with Redis's words, not half made: retried once the key is mended
    expect(await c.get('x-1')).toBeNull();
    const dead = (await c.deadLetters()).filter((d) => d.id === 'x-1');
    expect(dead).toHaveLength(1);
    expect(dead[0]!.reason).toBe('unrunnable');
    expect(dead[0]!.message).toMatch(/could not be queued: Redis refused .*WRONGTYPE/);
    await redis.del(keys.functionQueue('fx', 'groups'));
    expect(await c.retryDead(dead[0]!.key)).toBe(true);
    expect((await c.get('x-1'))?.state).toBe('QUEUED');
  }, 15_000);

  it("a dead worker's task refused at its function's queue stays RUNNING where the monitor finds it, and is requeued once mended", async () => {
    const { o, c, keys } = swarm();
    const dying = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 200, concurrency: 4 });
    cleanup.push(() => dying.kill('SIGKILL'));
    await c.submit('sleep', { ms: 120_000 }, { id: 'grouped', group: 'g' });
    await c.submit('nap', { ms: 120_000 }, { id: 'plain' });
    for (const id of ['grouped', 'plain']) await dying.waitFor(new RegExp(`^STARTED ${id} 1`));
    await startSteadyWorker(o, cleanup, ['other']);
    // (its function's turns of groups: a put-back gives the task's group one there)
    await redis.set(keys.functionQueue('sleep', 'groups'), 'not a sorted set');
    dying.kill('SIGKILL');
    const { lines, sweeps } = await startWatchedMonitor({ redis: o, taskTimeout: 1500, checkTaskInterval: 200 }, cleanup);
    const deadline = Date.now() + 6000;
    while (Date.now() < deadline && !sweeps.some((s) => s.requeued.includes('plain'))) await sleep(100);
    // the other task of the call is requeued, and said
    expect(sweeps.flatMap((s) => s.requeued)).toEqual(['plain']);
    expect((await c.get('plain'))?.state).toBe('QUEUED');
    // the refused one: RUNNING, in the lease index, and said
    expect((await c.get('grouped'))?.state).toBe('RUNNING');
    expect(await redis.zscore(keys.leases, 'grouped')).not.toBeNull();
    expect(lines.some((l) => /could not requeue 1 stale task\(s\).*grouped: WRONGTYPE/.test(l))).toBe(true);
    // mended: requeued at its next look (a taskTimeout on)
    await redis.del(keys.functionQueue('sleep', 'groups'));
    const again = Date.now() + 5000;
    while (Date.now() < again && (await c.get('grouped'))?.state !== 'QUEUED') await sleep(100);
    expect((await c.get('grouped'))?.state).toBe('QUEUED');
    // (the sweep that wrote it reports after its write: read QUEUED first, it may not be told yet)
    const told = Date.now() + 5000;
    while (Date.now() < told && !sweeps.some((s) => s.requeued.includes('grouped'))) await sleep(50);
    expect(sweeps.flatMap((s) => s.requeued).sort()).toEqual(['grouped', 'plain']);
  }, 30_000);
});
