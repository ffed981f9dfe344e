/**
 * Lanes: from concurrency 32 up a worker keeps two claims on their way, each for at most half its
 * slots (docs/task-actors.md). What two claims at once must not break, against a real Redis and
 * with no monitor running (a task stranded RUNNING would never end, and the test would time out
 * rather than pass):
 * - a function's own `concurrency` cap holds across both claims;
 * - a worker stopped while claims are on their way hands their tasks back, and another worker
 *   runs every task exactly once;
 * - answers that arrive after Redis was frozen under two claims are taken or handed back, never
 *   lost and never run twice.
 * From concurrency 10 up, a worker that is the swarm's only one has lanes too; with another
 * worker listed, it claims one claim at a time (the claims it sends, read with MONITOR).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Client, Worker } from '../src/index.js';
import { claimSizes } from './helpers/claims-seen.js';
import { startRedis, until } from './helpers/redis-server.js';
import { countedDrain } from './helpers/counted-drain.js';
import { stateCounts, submitInBatches } from './helpers/task-batches.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a worker with two claims on their way (concurrency >= 32)', () => {
  it("keeps a function's own concurrency cap across both claims", async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const o = server.options();
    let capped = 0;
    let most = 0;
    const w = new Worker({ port: 0, redis: o, concurrency: 64, logger: quiet });
    w.addTaskFunction(
      'capped',
      async () => {
        most = Math.max(most, ++capped);
        await sleep(15);
        capped--;
      },
      { concurrency: 3 },
    );
    w.addTaskFunction('free', async () => sleep(15));
    const c = new Client({ redis: o });
    cleanup.push(() => c.close(), () => w.stop());
    const ids = [...(await submitInBatches(c, 'capped', 90)), ...(await submitInBatches(c, 'free', 300))];
    await w.start();
    const r = new Redis(o);
    cleanup.push(() => r.disconnect());
    await until(async () => (await stateCounts(r, ids)).get('END') === ids.length, 'every task ended', 30_000);
    expect(most).toBe(3);
  }, 45_000);

  it('stopped with claims on their way, it hands their tasks back: another worker runs each exactly once', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const o = server.options();
    const runs = new Map<string, number>();
    const run = async (task: { id: string }) => {
      runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
    };
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const ids = await submitInBatches(c, 'quick', 6000);
    const r = new Redis(o);
    cleanup.push(() => r.disconnect());
    // three workers in turn, each stopped while it drains at full speed (two claims on their way)
    for (let round = 1; round <= 3; round++) {
      const w = new Worker({ port: 0, redis: o, concurrency: 64, logger: quiet });
      w.addTaskFunction('quick', run);
      await w.start();
      const before = runs.size;
      await until(() => runs.size >= before + 500, `worker ${round} ran 500 tasks`, 20_000);
      await w.stop();
      // nothing of this worker is left RUNNING: what it claimed either ended or went back
      const running = await r.zcard('tasks:leases');
      expect(running, `tasks still leased after worker ${round} stopped`).toBe(0);
    }
    const last = new Worker({ port: 0, redis: o, concurrency: 8, logger: quiet });
    last.addTaskFunction('quick', run);
    cleanup.push(() => last.stop());
    await last.start();
    await until(async () => (await stateCounts(r, ids)).get('END') === ids.length, 'every task ended', 60_000);
    expect(runs.size).toBe(ids.length);
    expect([...runs.values()].filter((n) => n > 1)).toEqual([]);
  }, 120_000);

  it('Redis frozen under two claims: every task ends exactly once once it is back', async () => {
    const { server, o, runs, ids } = await countedDrain(cleanup, 20_000, { port: 0, concurrency: 64, heartbeatInterval: 100, pingTimeout: 200, logger: quiet });
    await until(() => runs.size >= 1000, '1000 tasks ran', 20_000);
    server.freeze();
    await sleep(2500);
    server.thaw();
    const r = new Redis(o);
    cleanup.push(() => r.disconnect());
    await until(async () => (await stateCounts(r, ids)).get('END') === ids.length, 'every task ended', 90_000);
    expect(runs.size).toBe(ids.length);
    expect([...runs.values()].filter((n) => n > 1)).toEqual([]);
  }, 150_000);
});

describe('a worker of concurrency 10 to 31: lanes only while it is the swarm\'s only worker', () => {
  const drain = async (others: string[]) => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const o = server.options();
    const r = new Redis(o);
    cleanup.push(() => r.disconnect());
    // another worker, listed in `workers` as a live one is (no monitor runs here to prune it)
    if (others.length) await r.sadd('workers', ...others);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const ids = await submitInBatches(c, 'quick', 400);
    const seen = await claimSizes(o);
    cleanup.push(() => seen.stop());
    const w = new Worker({ port: 0, redis: o, concurrency: 10, logger: quiet });
    w.addTaskFunction('quick', async () => null);
    cleanup.push(() => w.stop());
    await w.start();
    await until(async () => (await stateCounts(r, ids)).get('END') === ids.length, 'every task ended', 30_000);
    return seen.sizes;
  };

  it('alone: after the first answer has counted the workers, every claim asks for a lane (5)', async () => {
    const sizes = await drain([]);
    expect(sizes[0], 'the first claim, before any count').toBe(10);
    expect(sizes.length).toBeGreaterThan(40);
    expect(Math.max(...sizes.slice(2)), `claim sizes: ${sizes.join(' ')}`).toBe(5);
  }, 45_000);

  it('with another worker listed: claims ask for every free slot (10), one at a time', async () => {
    const sizes = await drain(['127.0.0.1:1']);
    expect(sizes.length).toBeGreaterThan(20);
    expect(sizes.filter((n) => n === 10).length, `claim sizes: ${sizes.join(' ')}`).toBeGreaterThan(sizes.length / 2);
  }, 45_000);
});
