/**
 * A worker of concurrency 10 to 31 counts the swarm's workers with every claim (claim.lua's
 * optional KEYS[11], SCARD): lanes while it is the swarm's only worker. What that count must not
 * break, against a real Redis:
 * - a worker under the ACL rules of the version before this one (the rules belong to a version,
 *   docs/deployments.md, but rules made before SCARD was in claim.lua are what a swarm upgraded
 *   without reloading them runs under): the count is refused, and the claim must still run, one
 *   claim at a time, rather than fail every time (the default concurrency is 10: every worker).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { aclRule } from '../src/acl.js';
import { resolveRedisConfig } from '../src/config.js';
import { Client, Monitor, Worker } from '../src/index.js';
import { spawnWorker } from './helpers/processes.js';
import { claimKeys } from '../src/effects/queue.js';
import { partitionKeys } from '../src/partitions.js';
import { claimSizes, machineOf } from './helpers/claims-seen.js';
import calculateSlot from 'cluster-key-slot';
import { startRedis, until } from './helpers/redis-server.js';
import { countedDrain } from './helpers/counted-drain.js';
import { counting, stateCounts, submitInBatches, type Load } from './helpers/task-batches.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** a logger that keeps every warning and error */
function keeping(lines: string[]) {
  const keep = (...a: unknown[]) => void lines.push(a.map(String).join(' '));
  return { debug: () => {}, info: () => {}, warn: keep, error: keep };
}

describe('the count of workers a claim makes', () => {
  it('refused by ACL rules that predate it (no SCARD), the worker still claims: every task ends', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const o = server.options();
    const admin = new Redis({ host: o.host, port: o.port });
    const r = new Redis(o);
    cleanup.push(() => admin.disconnect(), () => r.disconnect());
    // the worker's rules as this version makes them, less the one command it added to claim.lua
    const rule = aclRule('worker', resolveRedisConfig({ keyPrefix: o.keyPrefix }));
    expect(rule).toContain(' +scard ');
    const before = rule.replace(' +scard ', ' ');
    await admin.call('ACL', 'SETUSER', 'old-worker', ...before.split(' '), '>pw');
    const logs: string[] = [];
    const w = new Worker({ port: 0, redis: { ...o, username: 'old-worker', password: 'pw' }, fetchTaskInterval: 300, logger: keeping(logs) });
    w.addTaskFunction('quick', async () => null);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close(), () => w.stop());
    const ids = await submitInBatches(c, 'quick', 50);
    await w.start();
    await until(async () => (await stateCounts(r, ids)).get('END') === ids.length, 'every task ended', 10_000).catch((e: Error) => {
      throw new Error(`${e.message}; the worker logged: ${logs.slice(0, 3).join(' | ')}`);
    });
    // idle now: a task that arrives is claimed by the claim its wait pipelines behind the block
    await sleep(500);
    const more = await submitInBatches(c, 'quick', 5);
    await until(async () => (await stateCounts(r, more)).get('END') === more.length, 'the tasks an idle worker woke for ended', 10_000);
    expect(logs.filter((l) => /NOPERM|permission|can't run/i.test(l))).toEqual([]);
  }, 30_000);
});

describe('a worker whose lanes come and go with the swarm (concurrency 10)', () => {
  it('in a swarm of four partitions, alone: the count lands in each partition, every task ends once, caps hold', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const o = { host: server.host, port: server.port, keyPrefix: `{lone${process.pid}}:`, partitions: 4 };
    const parts = partitionKeys(resolveRedisConfig(o));
    // each partition's claim keys, the workers set among them, share one slot (one script, one node)
    for (const k of parts) {
      const ks = claimKeys(k, { worker: 'w:1', countWorkers: true });
      expect(ks).toHaveLength(11);
      expect(new Set(ks.map((key) => calculateSlot(key))).size).toBe(1);
    }
    const runs = new Map<string, number>();
    const load: Load = { now: 0, most: 0 };
    const capped = { now: 0, most: 0 };
    const w = new Worker({ port: 0, redis: o, concurrency: 10, logger: quiet });
    w.addTaskFunction('quick', counting(runs, [load], 2));
    w.addTaskFunction('capped', counting(runs, [load, capped], 5), { concurrency: 3 });
    const c = new Client({ redis: o });
    cleanup.push(() => c.close(), () => w.stop());
    const ids = [...(await submitInBatches(c, 'quick', 1500)), ...(await submitInBatches(c, 'capped', 150))];
    const seen = await claimSizes(o);
    cleanup.push(() => seen.stop());
    await w.start();
    await until(() => runs.size === ids.length, 'every task ran', 30_000);
    const r = new Redis({ host: o.host, port: o.port });
    cleanup.push(() => r.disconnect());
    await until(async () => (await Promise.all(parts.map((k) => r.zcard(k.leases)))).every((n) => n === 0), 'no lease left', 10_000);
    expect([...runs.values()].filter((n) => n > 1)).toEqual([]);
    expect(capped.most).toBeLessThanOrEqual(3);
    expect(load.most).toBeLessThanOrEqual(10);
    // alone, it claimed in lanes while busy: most claims asked for five at most (an idle
    // worker's claim, after its wait, asks for every free slot)
    expect(seen.counted, 'claims that counted the workers').toBeGreaterThan(0);
    expect(seen.sizes.filter((n) => n <= 5).length, `claim sizes: ${seen.sizes.join(' ')}`).toBeGreaterThan(seen.sizes.length * 0.6);
  }, 60_000);

  it('another worker joins and leaves again and again while it drains: nothing runs twice, beyond its slots or its cap, or is left RUNNING', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const o = server.options();
    const runs = new Map<string, number>();
    const load: Load = { now: 0, most: 0 };
    const capped = { now: 0, most: 0 };
    const other = { now: 0, most: 0 };
    const w = new Worker({ port: 0, redis: o, concurrency: 10, logger: quiet });
    w.addTaskFunction('quick', counting(runs, [load], 3));
    w.addTaskFunction('capped', counting(runs, [load, capped], 4), { concurrency: 3 });
    const c = new Client({ redis: o });
    cleanup.push(() => c.close(), () => w.stop());
    const ids = [...(await submitInBatches(c, 'quick', 3000)), ...(await submitInBatches(c, 'capped', 600))];
    await w.start();
    // how often its machine heard that it came to be alone, or no longer
    let flips = 0;
    let alone = false;
    machineOf(w).onChange((context) => {
      if (context.alone !== alone) flips++;
      alone = context.alone;
    });
    // the other worker, started and stopped in turn: each start and stop changes the count its
    // claims read (its stop deregisters it), with the first worker's claims on their way
    let stop = false;
    const churn = (async () => {
      while (!stop) {
        const b = new Worker({ port: 0, redis: o, concurrency: 10, stopGrace: 200, logger: quiet });
        b.addTaskFunction('quick', counting(runs, [other], 3));
        b.addTaskFunction('capped', counting(runs, [other], 4), { concurrency: 3 });
        await b.start();
        await sleep(40 + Math.random() * 80);
        await b.stop();
        await sleep(40 + Math.random() * 80);
      }
    })();
    await until(() => runs.size === ids.length, 'every task ran', 60_000);
    stop = true;
    await churn;
    const r = new Redis(o);
    cleanup.push(() => r.disconnect());
    await until(async () => (await stateCounts(r, ids)).get('END') === ids.length, 'every task ended', 20_000);
    expect(await r.zcard('tasks:leases')).toBe(0);
    expect([...runs.values()].filter((n) => n > 1)).toEqual([]);
    expect(capped.most).toBeLessThanOrEqual(3);
    expect(load.most).toBeLessThanOrEqual(10);
    expect(other.most).toBeLessThanOrEqual(10);
    expect(flips, 'lanes came and went').toBeGreaterThanOrEqual(4);
  }, 120_000);

  it('alone, Redis frozen under its two claims and back: every task ends exactly once, and lanes go on', async () => {
    const { server, o, w, runs, ids } = await countedDrain(cleanup, 8000, { port: 0, concurrency: 10, heartbeatInterval: 100, pingTimeout: 200, logger: quiet });
    const machine = machineOf(w).context;
    await until(() => runs.size >= 1000 && machine().alone, '1000 tasks ran, alone', 20_000);
    for (let i = 0; i < 2; i++) {
      server.freeze();
      await sleep(1500);
      server.thaw();
      await sleep(500);
    }
    const r = new Redis(o);
    cleanup.push(() => r.disconnect());
    await until(async () => (await stateCounts(r, ids)).get('END') === ids.length, 'every task ended', 60_000);
    expect(runs.size).toBe(ids.length);
    expect([...runs.values()].filter((n) => n > 1)).toEqual([]);
    expect(machine().round, 'rounds of connected').toBeGreaterThan(1);
    expect(machine().alone).toBe(true);
  }, 120_000);

  it('another worker SIGKILLed: one claim at a time while it is listed, lanes again once a monitor has pruned it', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const o = server.options();
    const w = new Worker({ port: 0, redis: o, concurrency: 10, heartbeatInterval: 100, logger: quiet });
    w.addTaskFunction('quick', async () => null);
    cleanup.push(() => w.stop());
    await w.start();
    const alone = () => machineOf(w).context().alone;
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    // a claim counts: tasks keep coming, a few at a time
    let feeding = true;
    const feed = (async () => {
      while (feeding) {
        await c.submitMany(Array.from({ length: 20 }, (_, i) => ({ fn: 'quick', data: { i } })));
        await sleep(20);
      }
    })();
    cleanup.push(async () => {
      feeding = false;
      await feed;
    });
    await until(alone, 'alone', 10_000);
    const other = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 100 }, [], ['quick']);
    cleanup.push(() => other.kill('SIGKILL'));
    await until(() => !alone(), 'the other worker counted', 10_000);
    await other.kill('SIGKILL');
    await sleep(1000);
    expect(alone(), 'a worker that died is counted until it is pruned').toBe(false);
    const m = new Monitor({ redis: o, taskTimeout: 500, checkTaskInterval: 100, logger: quiet });
    cleanup.push(() => m.stop());
    await m.start();
    await until(alone, 'alone again once the dead worker was pruned', 15_000);
  }, 60_000);
});
