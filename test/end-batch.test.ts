/**
 * The worker's end batch: the ENDs of tasks that settle together go out in one call, and the
 * claim the worker makes for the slots they free rides in the same script (one command).
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { EndBatch } from '../src/effects/end-batch.js';
import { claim, finishAndClaim, submit, type ClaimResult } from '../src/effects/queue.js';
import type { Ending } from '../src/effects/end-batch.js';
import { redisPerFile } from './helpers/suite.js';
import { until } from './helpers/redis-server.js';
import { Client, Worker } from '../src/index.js';
import { loadLibrary } from '../src/scripts.js';
import { keysFor, requestFor } from './properties/harness.js';
import type { RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
let redis: Redis;
redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const W = 'w:1';
const REQUEST = requestFor(W, 2, 10_000, ['f']);

/** script calls (FCALL) Redis has run, from any connection */
async function scriptCalls(): Promise<number> {
  const stats = (await redis.info('commandstats')).split('\n');
  const calls = (cmd: string) => Number(/calls=(\d+)/.exec(stats.find((l) => l.startsWith(`cmdstat_${cmd}:`)) ?? '')?.[1] ?? 0);
  return calls('fcall');
}

async function setUp(prefix: string) {
  const keys = keysFor(prefix);
  for (const id of ['a', 'b', 'c', 'd']) await submit(redis, keys, id, JSON.stringify({ id, function: 'f' }));
  const held = (await claim(redis, keys, REQUEST)).claimed;
  const endings: Ending[] = held.map((t) => ({ id: t.id, lease: t.lease, outcome: 'succeeded', payloadJson: '1' }));
  // its own connection; the library is loaded already, so each call is one FCALL
  const conn = server.client();
  await loadLibrary(redis);
  return { keys, endings, conn };
}

/** as the worker claims for the slots a flush frees: the claim takes the outgoing ENDs along */
function claimTaking(batch: EndBatch, conn: Redis, keys: ReturnType<typeof keysFor>) {
  const ends = batch.takeOutgoing();
  if (!ends) return undefined;
  const reply = finishAndClaim(conn, keys, ends.endings, REQUEST);
  ends.carriedBy(reply);
  return reply;
}

describe('EndBatch', () => {
  it('sends the ends of one tick and the claim made as they go out in one script call', async () => {
    const { keys, endings, conn } = await setUp('ride:');
    let claimed: Promise<ClaimResult> | undefined;
    const flushed: string[][] = [];
    const batch = new EndBatch(conn, keys, (ends) => {
      flushed.push(ends.map((e) => e.id));
      claimed = claimTaking(batch, conn, keys); // as the worker machine claims for the freed slots
    });
    const before = await scriptCalls();
    const written = await Promise.all(endings.map((e) => batch.end(e)));
    const got = await claimed!;
    expect(await scriptCalls()).toBe(before + 1);
    expect(flushed).toEqual([['a', 'b']]);
    expect(written).toEqual([true, true]);
    expect(got.claimed.map((t) => t.id)).toEqual(['c', 'd']);
    expect(await redis.hmget(keys.task('a'), 'state', 'outcome')).toEqual(['END', 'succeeded']);
    expect(await redis.hget(keys.task('c'), 'state')).toBe('RUNNING');
    conn.disconnect();
  });

  it('gives its outgoing ENDs to no claim outside its flush, nor to a second one in it', async () => {
    const { keys, endings, conn } = await setUp('alone:');
    const answers: unknown[] = [];
    const batch = new EndBatch(conn, keys, () => {
      const first = claimTaking(batch, conn, keys);
      answers.push(first instanceof Promise, batch.takeOutgoing());
    });
    expect(batch.takeOutgoing()).toBeUndefined(); // not flushing
    const written = Promise.all(endings.map((e) => batch.end(e)));
    expect(batch.takeOutgoing()).toBeUndefined(); // queued, not flushing yet
    expect(await written).toEqual([true, true]);
    expect(answers).toEqual([true, undefined]);
    conn.disconnect();
  });

  it('without a claim, the ends go alone; a failed claim does not hold the ends back; with Redis gone both fail', async () => {
    const { keys, endings, conn } = await setUp('fail:');
    const alone = new EndBatch(conn, keys);
    const before = await scriptCalls();
    expect(await Promise.all(endings.map((e) => alone.end(e)))).toEqual([true, true]);
    expect(await scriptCalls()).toBe(before + 1);

    // the claim's half fails (the queue is not a list): the claim fails, the ends are written
    const broken = await setUp('broken:');
    await redis.del(broken.keys.newQueue);
    await redis.set(broken.keys.newQueue, 'not a list');
    let brokenClaim: Promise<unknown> | undefined;
    const half = new EndBatch(broken.conn, broken.keys, () => {
      brokenClaim = claimTaking(half, broken.conn, broken.keys);
    });
    const brokenEnds = broken.endings.map((e) => half.end(e));
    await new Promise((r) => process.nextTick(r)); // after the flush, which was scheduled first
    await expect(brokenClaim).rejects.toThrow(/WRONGTYPE/);
    expect(await Promise.all(brokenEnds)).toEqual([true, true]);
    expect(await redis.hget(broken.keys.task('a'), 'state')).toBe('END');
    broken.conn.disconnect();

    const dead = server.client();
    await dead.quit(); // a closed connection: the call fails at once
    let claimed: Promise<unknown> | undefined;
    const failing = new EndBatch(dead, keys, () => {
      claimed = claimTaking(failing, dead, keys);
    });
    const ends = endings.map((e) => failing.end(e));
    await expect(Promise.all(ends)).rejects.toThrow();
    await expect(claimed).rejects.toThrow();
    conn.disconnect();
  });
});

/**
 * the script calls a worker at `concurrency` makes to run `n` queued no-op tasks to their end;
 * `others`: workers listed in the swarm besides it (no monitor here prunes them)
 */
async function scriptsToDrain(n: number, concurrency: number, others: string[] = []): Promise<number> {
  const o = server.options();
  if (others.length) await redis.sadd(`${o.keyPrefix}workers`, ...others);
  const c = new Client({ redis: o });
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await c.submit('noop', i));
  const w = new Worker({ port: 0, redis: o, concurrency, heartbeatInterval: 60_000 });
  w.addTaskFunction('noop', async () => null);
  const before = await scriptCalls();
  await w.start();
  await until(async () => (await Promise.all(ids.map((id) => c.get(id)))).every((t) => t?.state === 'END'), `all ${n} ended`);
  const calls = (await scriptCalls()) - before;
  await w.stop();
  await c.close();
  return calls;
}

describe('a busy worker', () => {
  it('at concurrency 1 sends one script per task: each END carries the next claim', async () => {
    const calls = await scriptsToDrain(40, 1);
    // 40 ENDs and 41 claims: apart, 81 scripts; together, one per task plus the first claim,
    // registration, a heartbeat and the idle wait's claim
    expect(calls).toBeGreaterThanOrEqual(41);
    expect(calls).toBeLessThanOrEqual(46);
  });

  it('at concurrency 10, with other workers in the swarm, ends ten tasks and claims the next ten in one script', async () => {
    const calls = await scriptsToDrain(200, 10, ['127.0.0.1:1']);
    // the ten no-op tasks of a claim settle together: their ENDs and the claim for their slots
    // go out in one script, about one per ten tasks (ENDs alone, or a claim per task, would not)
    expect(calls).toBeLessThanOrEqual(200 / 10 + 8);
  });

  it("at concurrency 10, the swarm's only worker, ends five tasks and claims the next five in one script (lanes)", async () => {
    const calls = await scriptsToDrain(200, 10);
    // two claims of five take turns: each lane's ENDs carry its next claim
    expect(calls).toBeGreaterThan(200 / 10 + 8);
    expect(calls).toBeLessThanOrEqual(200 / 5 + 8);
  });
});
