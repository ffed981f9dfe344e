/**
 * A claim's one flat reply (claim.lua, finish-claim.lua) read back whole when it mixes claimed
 * tasks, parked entries and the ENDs it carried, also when the same call reaches Redis again;
 * and a worker whose lanes' answers arrive together (taken a turn apart) strands nothing when it
 * stops while the second answer waits its turn, and runs a capped function within its cap.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { claim, finishAndClaim } from '../src/effects/queue.js';
import { keysFor, requestFor } from './properties/harness.js';
import { startRedis, until } from './helpers/redis-server.js';
import { holdReplies, proxiedSwarm } from './helpers/proxied-swarm.js';
import { counting, stateCounts, type Load } from './helpers/task-batches.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const W = '127.0.0.1:7';

describe("a claim's flat reply", () => {
  it('reads the claimed, the parked and the ENDs apart, and the same call sent again answers alike', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const o = server.options();
    const redis = server.client();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const first: string[] = [];
    for (let i = 0; i < 3; i++) first.push(await c.submit('f', { i }));
    const held = await claim(redis, keys, requestFor(W, 3, 1 << 20, ['f'], 'tok.1'));
    expect(held.claimed.map((t) => t.id)).toEqual(first);
    // what comes next: good entries between bad ones pushed by hand
    const later: string[] = [];
    await redis.lpush(keys.newQueue, 'not json');
    later.push(await c.submit('f', { i: 3 }));
    await redis.lpush(keys.newQueue, '{"id":"x1"}');
    later.push(await c.submit('f', { i: 4 }));
    await redis.lpush(keys.newQueue, 'also not json');
    // two ENDs of ours, one of a lease not ours (fenced)
    const ends = [
      { id: first[0]!, lease: held.claimed[0]!.lease, outcome: 'succeeded' as const, payloadJson: '1' },
      { id: first[1]!, lease: 'nope', outcome: 'succeeded' as const, payloadJson: '2' },
      { id: first[2]!, lease: held.claimed[2]!.lease, outcome: 'succeeded' as const, payloadJson: '3' },
    ];
    const request = requestFor(W, 5, 1 << 20, ['f'], 'tok.2');
    const r = await finishAndClaim(redis, keys, ends, request);
    expect(r.written).toEqual([true, false, true]);
    expect(r.claimed.map((t) => t.id)).toEqual(later);
    expect(r.claimed.map((t) => t.attempt)).toEqual([1, 1]);
    for (const t of r.claimed) expect(JSON.parse(t.raw).id).toBe(t.id);
    expect(r.parked.map((p) => p.reason).sort()).toEqual(['bad_json', 'bad_json', 'missing_function']);
    expect(r.receipt).toBe(true);
    // the same call again (its reply lost, sent again after a reconnect): the ENDs written
    // answer as written, the claim answers from its receipt, nothing more is taken
    const again = await finishAndClaim(redis, keys, ends, request);
    expect(again.written).toEqual([true, false, true]);
    expect(again.claimed).toEqual(r.claimed);
    expect(again.parked).toEqual([]);
    expect(await redis.hget(keys.task(first[1]!), 'state')).toBe('RUNNING');
  });
});

describe('a worker whose two lanes answer in one read', () => {
  it('stopped while the second answer waits its turn: every task it took ran once or went back, none left RUNNING', async () => {
    for (let round = 0; round < 4; round++) {
      const { o, proxy, ids: { quick: ids }, r } = await proxiedSwarm(cleanup, { quick: 600 });
      const runs = new Map<string, number>();
      const w = new Worker({ port: 0, redis: { ...o, port: proxy.port }, concurrency: 10, logger: quiet, stopGrace: 2000 });
      w.addTaskFunction('quick', counting(runs, [], 1));
      await w.start();
      await until(() => runs.size >= 50 + round * 20, 'tasks run', 20_000);
      expect(proxy.hold((hello) => hello.includes(':command'))).toBe(1);
      await sleep(100);
      const stopped = w.stop();
      // the replies reach the worker as it stops
      await sleep(round * 3);
      proxy.heal();
      await stopped;
      const counts = await stateCounts(r, ids!);
      expect(counts.get('RUNNING') ?? 0, JSON.stringify([...counts])).toBe(0);
      expect([...runs.values()].every((x) => x === 1)).toBe(true);
      expect((counts.get('END') ?? 0)).toBe(runs.size);
      while (cleanup.length) await cleanup.pop()!();
    }
  }, 90_000);

  it("runs a capped function within its cap while answers are taken a turn apart", async () => {
    const { o, proxy, ids: { quick: ids }, r } = await proxiedSwarm(cleanup, { quick: 1500 });
    const capped: Load = { now: 0, most: 0 };
    const runs = new Map<string, number>();
    const w = new Worker({ port: 0, redis: { ...o, port: proxy.port }, concurrency: 12, logger: quiet });
    w.addTaskFunction('quick', counting(runs, [capped], () => (runs.size % 2 ? 0 : 1)), { concurrency: 7 });
    cleanup.push(() => w.stop());
    await w.start();
    for (let i = 0; i < 5; i++) {
      await until(() => runs.size >= 100 * (i + 1), 'tasks run', 20_000);
      await holdReplies(proxy, 80);
    }
    await until(async () => (await stateCounts(r, ids!)).get('END') === ids!.length, 'every task ended', 60_000);
    expect(capped.most).toBeLessThanOrEqual(7);
    expect([...runs.values()].every((x) => x === 1) && runs.size === ids!.length).toBe(true);
  }, 90_000);

  it('across partitions, at concurrency 40 with a capped function: every task runs once, within the cap', async () => {
    const { o, proxy, ids } = await proxiedSwarm(cleanup, { capped: 800, free: 1500 }, { keyPrefix: '{lanes}:', partitions: 3 });
    const capped: Load = { now: 0, most: 0 };
    const runs = new Map<string, number>();
    const w = new Worker({ port: 0, redis: { ...o, port: proxy.port }, concurrency: 40, logger: quiet });
    w.addTaskFunction('capped', counting(runs, [capped], () => (runs.size % 3 ? 0 : 1)), { concurrency: 9 });
    w.addTaskFunction('free', counting(runs, [], () => (runs.size % 2 ? 0 : 1)));
    cleanup.push(() => w.stop());
    await w.start();
    for (let i = 0; i < 5; i++) {
      await until(() => runs.size >= 200 * (i + 1), 'tasks run', 20_000);
      await holdReplies(proxy, 80);
    }
    await until(() => runs.size === ids.capped!.length + ids.free!.length, 'every task run', 60_000);
    await sleep(200);
    expect(capped.most).toBeLessThanOrEqual(9);
    expect([...runs.values()].every((x) => x === 1)).toBe(true);
  }, 90_000);

  it('with its links cut as the held replies go out: every task ends, each run once', async () => {
    const { o, proxy, ids: { quick: ids }, r } = await proxiedSwarm(cleanup, { quick: 3000 });
    const runs = new Map<string, number>();
    const w = new Worker({ port: 0, redis: { ...o, port: proxy.port }, concurrency: 10, logger: quiet, heartbeatInterval: 500 });
    w.addTaskFunction('quick', counting(runs, [], 0));
    cleanup.push(() => w.stop());
    await w.start();
    for (let i = 0; i < 6; i++) {
      await until(() => runs.size >= 200 * (i + 1), 'tasks run', 30_000);
      await holdReplies(proxy, 100);
      // cut at once, a turn later, or a few ms later
      await new Promise((res) => (i % 2 ? setImmediate(res) : setTimeout(res, i)));
      proxy.reset();
      await sleep(50);
      proxy.heal();
    }
    await until(async () => (await stateCounts(r, ids!)).get('END') === ids!.length, 'every task ended', 60_000);
    expect(runs.size).toBe(ids!.length);
    expect([...runs.values()].every((x) => x === 1)).toBe(true);
  }, 90_000);
});
