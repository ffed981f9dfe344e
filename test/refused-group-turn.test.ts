/**
 * A group held back by its limit waits out of its function's turns, in `blocked`, and the set
 * of functions it waits in (`blocked-in`) tells a release where to give it its turn back. A claim
 * that moved a group between the two, refused at `blocked-in` (damaged by hand: WRONGTYPE) after
 * it had taken the group out of one, left it in neither (its rate window passed: out of
 * `blocked`, never given its turn back) or waiting for a release that never looks for it (its
 * concurrency: in `blocked` till a release, which reads `blocked-in`). Its tasks then never ran,
 * the key mended or not. The refusal must leave the group where it was, and once the key is
 * mended its tasks run.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { claimAs, keysFor } from './properties/harness.js';
import type { Keys } from '../src/keys.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const part = (name: string) => `${Buffer.byteLength(name)}:${name}`;
const blockedIn = (keys: Keys, g: string) => `${keys.newQueue}:g:${part(g)}:blocked-in`;

function swarm() {
  const o = server.options();
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return { o, c, keys: keysFor(o.keyPrefix) };
}

describe("a claim refused at a group's blocked-in set", () => {
  it('its rate window passed: the group keeps a turn, and its task is claimed once the key is mended', async () => {
    const { c, keys } = swarm();
    await c.setLimit({ group: 'gr' }, { rate: { max: 1, per: 300 } });
    for (const id of ['r-1', 'r-2']) await c.submit('fr', 1, { id, group: 'gr' });
    const first = await claimAs(redis, keys, 'w1:1', 4, 1_000_000, ['fr']);
    expect(first.claimed.map((t) => t.id)).toEqual(['r-1']);
    // (r-2's group waits out its rate window in `blocked`)
    await redis.del(blockedIn(keys, 'gr'));
    await redis.set(blockedIn(keys, 'gr'), 'not a set');
    await sleep(400);
    const refused = await claimAs(redis, keys, 'w1:1', 4, 1_000_000, ['fr']);
    expect(refused.claimed).toEqual([]);
    expect(refused.parked.map((p) => p.reason)).toEqual(['refused']);
    await redis.del(blockedIn(keys, 'gr'));
    const again = await claimAs(redis, keys, 'w1:1', 4, 1_000_000, ['fr']);
    expect(again.claimed.map((t) => t.id)).toEqual(['r-2']);
  });

  it('at its concurrency: the group is not set aside where no release finds it, and its next task runs once the key is mended', async () => {
    const { o, c, keys } = swarm();
    await c.setLimit({ group: 'gc' }, { concurrency: 1 });
    for (const id of ['c-1', 'c-2']) await c.submit('fc', 1, { id, group: 'gc' });
    await redis.set(blockedIn(keys, 'gc'), 'not a set');
    const started: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    const worker = new Worker({ port: 0, redis: o, concurrency: 4, fetchTaskInterval: 200, logger: quiet });
    worker.addTaskFunction('fc', async (t) => {
      started.push(t.id);
      if (t.id === 'c-1') await held;
    });
    cleanup.push(() => worker.stop());
    await worker.start();
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && started.length < 1) await sleep(50);
    expect(started).toEqual(['c-1']);
    // (claims meanwhile find c-2's group at its limit: the write setting it aside is refused)
    await sleep(500);
    await redis.del(blockedIn(keys, 'gc'));
    release();
    const again = Date.now() + 5000;
    while (Date.now() < again && started.length < 2) await sleep(50);
    expect(started).toEqual(['c-1', 'c-2']);
  }, 15_000);
});
