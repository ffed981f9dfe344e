/**
 * One swarm spread over several partitions (`redis.partitions`), here on one Redis: each
 * partition is a whole layout under its own hash tag (on a Cluster, on whichever primary serves
 * its slot: test/cluster-partitions.test.ts). A task lives in the partition of its id, found
 * from the id alone; a worker claims across all of them, none starving; an idle worker wakes
 * for a task in any; a monitor sweeps them all; what applies to the swarm (pause, limits) holds
 * in each.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Monitor, Worker } from '../src/index.js';
import { partitionKeys, partitionOf, partitionPrefix } from '../src/partitions.js';
import { resolveRedisConfig } from '../src/config.js';
import { redisPerFile } from './helpers/suite.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { spawnWorker, type WorkerProcess } from './helpers/processes.js';
import calculateSlot from 'cluster-key-slot';
import { aclRule, ACL_USERS, type AclRole } from '../src/acl.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});
const procs: WorkerProcess[] = [];
void cleanup;
afterAll(async () => {
  for (const p of procs) await p.kill('SIGKILL');
});

const N = 4;
const conf = (prefix: string, extra: Record<string, unknown> = {}) => ({ port: server.port, keyPrefix: prefix, partitions: N, ...extra });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a swarm in partitions', () => {
  it('each partition has its own hash tag, spread over the slot space: one per quarter for four', () => {
    const prefixes = Array.from({ length: N }, (_, p) => partitionPrefix('app:{jobs}:', p, N));
    expect(prefixes[0]).toMatch(/^app:\{jobs:0(\.\d+)?\}:$/);
    prefixes.forEach((pre, p) => {
      const slot = calculateSlot(pre);
      expect(slot).toBeGreaterThanOrEqual((p * 16384) / N);
      expect(slot).toBeLessThan(((p + 1) * 16384) / N);
    });
    // one partition: the keyPrefix's own layout, unchanged
    expect(partitionPrefix('{jobs}:', 0, 1)).toBe('{jobs}:');
    expect(() => resolveRedisConfig({ partitions: 3, keyPrefix: 'jobs:' })).toThrow(/redis\.partitions \(3\) spreads a swarm over Cluster slots by its keyPrefix's hash tag/);
    expect(() => resolveRedisConfig({ partitions: 0, keyPrefix: '{j}:' })).toThrow(/redis\.partitions must be >= 1/);
  });

  it('tasks land in the partitions of their ids, groups and dedupe keys together; every one runs and is found by id', async () => {
    const prefix = '{spread}:';
    const r = conf(prefix);
    const worker = new Worker({ port: 0, redis: r, concurrency: 8 });
    worker.addTaskFunction('echo', async (task) => task.data);
    await worker.start();
    const client = new Client({ redis: r });
    const parts = partitionKeys(resolveRedisConfig(r));
    try {
      // 100 random ids miss one of 4 partitions with odds of about 1 in 10^12
      const plain = await Promise.all(Array.from({ length: 100 }, (_, i) => client.submit('echo', { i })));
      const given = await Promise.all(Array.from({ length: 8 }, (_, i) => client.submit('echo', { g: i }, { id: `given-${i}` })));
      const grouped = await client.submitMany(Array.from({ length: 12 }, (_, i) => ({ fn: 'echo', data: { i }, options: { group: 'tenant-7' } })));
      for (const id of [...plain, ...given, ...grouped]) expect(await client.wait(id, { timeout: 10_000 })).toMatchObject({ state: 'END', outcome: 'succeeded' });
      // each task's hash is in the partition of its id, and only there
      for (const id of [...plain, ...given, ...grouped]) {
        const where = await Promise.all(parts.map((k) => redis.exists(k.task(id))));
        expect(where.map((x, p) => (x ? p : -1)).filter((p) => p >= 0)).toEqual([partitionOf(id, N)]);
      }
      // plain ids spread over every partition; a group's tasks sit in one
      expect(new Set(plain.map((id) => partitionOf(id, N))).size).toBe(N);
      expect(new Set(grouped.map((id) => partitionOf(id, N))).size).toBe(1);
      // a dedupe key meets its holder in one partition: the second submit gets the first's id
      const slow = new Worker({ port: 0, redis: r, concurrency: 1 });
      const first = await client.submit('later', 1, { key: 'nightly-report' });
      expect(await client.submit('later', 2, { key: 'nightly-report' })).toBe(first);
      await slow.stop();
      expect(await client.cancel(first)).toBe('cancelled');
      // the stats count every partition
      const stats = await client.stats();
      expect(stats.workers).toBe(1);
      expect(stats.functions.echo).toMatchObject({ queued: 0, running: 0, workers: 1 });
    } finally {
      await client.close();
      await worker.stop();
    }
  }, 60_000);

  it('a worker claims from every partition in turn: a small partition is not starved by a full one', async () => {
    const prefix = '{fair}:';
    const r = conf(prefix);
    const client = new Client({ redis: r });
    // ids chosen by partition: 60 in partition 0, 4 in partition 3
    const idsIn = (p: number, n: number) => {
      const out: string[] = [];
      for (let i = 0; out.length < n; i++) if (partitionOf(`t${p}-${i}`, N) === p) out.push(`t${p}-${i}`);
      return out;
    };
    const big = idsIn(0, 60);
    const small = idsIn(3, 4);
    await client.submitMany(big.map((id) => ({ fn: 'work', data: 30, options: { id } })));
    await client.submitMany(small.map((id) => ({ fn: 'work', data: 30, options: { id } })));
    const order: string[] = [];
    const worker = new Worker({ port: 0, redis: r, concurrency: 2 });
    worker.addTaskFunction('work', async (task) => {
      order.push(task.id);
      await sleep(task.data as number);
    });
    await worker.start();
    try {
      await until(() => order.length === big.length + small.length, 'every task started', 30_000, 20);
      // the four of the small partition start among the first dozen, not after the sixty
      const last = Math.max(...small.map((id) => order.indexOf(id)));
      expect(last).toBeLessThan(12);
    } finally {
      await client.close();
      await worker.stop();
    }
  }, 60_000);

  it('an idle worker takes a task in any partition at once, not at its poll', async () => {
    const prefix = '{idle}:';
    const r = conf(prefix);
    const worker = new Worker({ port: 0, redis: r, concurrency: 2, fetchTaskInterval: 10_000 });
    worker.addTaskFunction('echo', async (task) => task.data);
    await worker.start();
    const client = new Client({ redis: r });
    try {
      await sleep(300); // blocked on every partition by now
      for (let p = 0; p < N; p++) {
        let id = '';
        for (let i = 0; partitionOf(id, N) !== p || id === ''; i++) id = `idle-${p}-${i}`;
        const t0 = Date.now();
        await client.submit('echo', p, { id });
        await client.wait(id, { timeout: 5_000 });
        expect(Date.now() - t0).toBeLessThan(2_000);
        await sleep(200);
      }
    } finally {
      await client.close();
      await worker.stop();
    }
  }, 60_000);

  it('pause and limits hold in every partition; a monitor requeues from each after its worker is SIGKILLed', async () => {
    const prefix = '{swept}:';
    const r = conf(prefix);
    const client = new Client({ redis: r });
    await client.pause('work');
    const ids = await Promise.all(Array.from({ length: 16 }, (_, i) => client.submit('work', { ms: 50_000 }, { id: `s${i}` })));
    expect(new Set(ids.map((id) => partitionOf(id, N))).size).toBe(N);
    await client.setLimit({ function: 'work' }, { concurrency: 3 });
    expect(await client.limits()).toEqual([expect.objectContaining({ function: 'work', concurrency: 3, running: 0 })]);
    const victim = await spawnWorker({ port: 0, redis: r, concurrency: 16, heartbeatInterval: 200 }, [], ['work']);
    procs.push(victim);
    await sleep(1000);
    expect(victim.lines.filter((l) => l.startsWith('STARTED '))).toEqual([]); // paused everywhere
    expect(await client.resume('work')).toBe(true);
    // three per partition at most: the limit holds in each (docs: a function's limit is per partition)
    await until(() => victim.lines.filter((l) => l.startsWith('STARTED ')).length === 12, '12 started', 10_000, 20);
    await sleep(300);
    expect(victim.lines.filter((l) => l.startsWith('STARTED ')).length).toBe(12);
    await client.setLimit({ function: 'work' }, null);
    await until(() => victim.lines.filter((l) => l.startsWith('STARTED ')).length === 16, 'all 16 started', 10_000, 20);
    await victim.kill('SIGKILL');

    const monitor = new Monitor({ redis: r, taskTimeout: 1000, checkTaskInterval: 200 });
    const requeued: string[] = [];
    monitor.on('sweep', (s: { requeued: string[] }) => requeued.push(...s.requeued));
    await monitor.start();
    try {
      await until(() => requeued.length === 16, 'every task requeued', 15_000, 50);
      expect(new Set(requeued)).toEqual(new Set(ids));
      for (const id of ids) expect(await client.get(id)).toMatchObject({ state: 'QUEUED' });
    } finally {
      await monitor.stop();
      await client.close();
    }
  }, 60_000);

  it('every component of a swarm must count its partitions alike: one that counts otherwise is refused at start, naming both', async () => {
    const prefix = '{layout}:';
    const worker = new Worker({ port: 0, redis: conf(prefix) });
    await worker.start();
    try {
      const client = new Client({ redis: conf(prefix, { partitions: 1 }) });
      await expect(client.submit('x', 1)).rejects.toThrow(/redis\.partitions is 1 here, but this swarm is laid out in 4 partition\(s\)/);
      await client.close();
      const other = new Worker({ port: 0, redis: conf(prefix, { partitions: 2 }) });
      await expect(other.start()).rejects.toMatchObject({ code: 'ERR_CONFIG' });
      const monitor = new Monitor({ redis: conf(prefix, { partitions: 3 }) });
      await expect(monitor.start()).rejects.toThrow(/laid out in 4 partition/);
    } finally {
      await worker.stop();
    }
  }, 30_000);

  it('the ACL rules of each role cover every partition: a worker and a producer run a swarm of four as their users', async () => {
    const prefix = '{acl}:';
    const names = resolveRedisConfig(conf(prefix));
    for (const role of ['worker', 'producer'] as AclRole[]) await redis.call('ACL', 'SETUSER', ACL_USERS[role], ...aclRule(role, names).split(' '), '>pw');
    const worker = new Worker({ port: 0, redis: conf(prefix, { username: ACL_USERS.worker, password: 'pw' }), concurrency: 4 });
    worker.addTaskFunction('echo', async (task) => task.data);
    await worker.start();
    const client = new Client({ redis: conf(prefix, { username: ACL_USERS.producer, password: 'pw' }) });
    try {
      // 100 random ids miss one of 4 partitions with odds of about 1 in 10^12 (20 missed one in 80 runs)
      const ids = await client.submitMany(Array.from({ length: 100 }, (_, i) => ({ fn: 'echo', data: i })));
      expect(new Set(ids.map((id) => partitionOf(id, N))).size).toBe(N);
      for (const id of ids) expect(await client.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded' });
    } finally {
      await client.close();
      await worker.stop();
    }
  }, 30_000);

  it('a schedule fires its tasks in partition 0, where a client finds them by id, and a worker runs them', async () => {
    const prefix = '{sched}:';
    const r = conf(prefix);
    const worker = new Worker({ port: 0, redis: r, concurrency: 2 });
    const ran: string[] = [];
    worker.addTaskFunction('tick', async (task) => void ran.push(task.id));
    await worker.start();
    const monitor = new Monitor({ redis: r, checkTaskInterval: 200 });
    await monitor.start();
    const client = new Client({ redis: r });
    try {
      await client.schedule('often', { every: 300 }, 'tick', null);
      await until(() => ran.length >= 2, 'two ticks run', 10_000, 20);
      for (const id of ran) {
        expect(partitionOf(id, N)).toBe(0);
        expect(await client.get(id)).toMatchObject({ state: 'END', outcome: 'succeeded' });
      }
      await client.unschedule('often');
    } finally {
      await client.close();
      await monitor.stop();
      await worker.stop();
    }
  }, 30_000);
});
