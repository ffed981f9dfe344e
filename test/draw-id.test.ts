/**
 * `Client.drawId`: an id for a task to be submitted, drawn as `submit` draws one, so that a
 * caller can subscribe to a task's events before it is queued and still have what a drawn id
 * gives: the task written with the time of its first submit (`queued_at`, which the workers' pickup
 * metric reads; an id of one's own is written without), the same entry at every submit of it,
 * and in a partitioned swarm the partition of its group or dedupe key. The CLI's
 * `submit --wait` draws its id so.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, ConfigError, Worker } from '../src/index.js';
import { main } from '../src/cli.js';
import { partitionOf, partitionOfPlace } from '../src/partitions.js';
import { keysFor } from './properties/harness.js';
import { quiet } from './helpers/order.js';
import type { RedisServer } from './helpers/redis-server.js';
import { until } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

function client(extra: Record<string, unknown> = {}) {
  const o = { ...server.options(), ...extra } as ReturnType<RedisServer['options']>;
  const c = new Client({ redis: o, logger: quiet });
  cleanup.push(() => c.close());
  return { c, keys: keysFor(o.keyPrefix) };
}

/** the entries on the ingress, oldest first, parsed */
async function ingress(keys: ReturnType<typeof keysFor>) {
  return (await redis.lrange(keys.newQueue, 0, -1)).reverse().map((e) => JSON.parse(e) as Record<string, unknown>);
}

describe('an id drawn by the client', () => {
  it('is written with the time of its first submit (not of its draw), and the same entry at a second submit of it', async () => {
    const { c, keys } = client();
    const id = c.drawId();
    const off = c.subscribe(id, () => {});
    await off.ready;
    await new Promise((r) => setTimeout(r, 50));
    const before = Date.now();
    expect(await c.submit('f', { n: 1 }, { id })).toBe(id);
    const after = Date.now();
    await new Promise((r) => setTimeout(r, 20));
    expect(await c.submit('f', { n: 1 }, { id })).toBe(id);
    const [entry, ...more] = await ingress(keys);
    expect(more).toEqual([]);
    expect(entry).toMatchObject({ id, function: 'f', data: { n: 1 } });
    expect(entry!.queued_at).toBeGreaterThanOrEqual(before);
    expect(entry!.queued_at).toBeLessThanOrEqual(after);
    off();
  });

  it('of a delayed task: written with its due time counted from its submit', async () => {
    const { c, keys } = client();
    const id = c.drawId();
    const submittedAt = Date.now();
    await c.submit('f', null, { id, delay: 60_000 });
    const raw = await redis.hget(keys.task(id), 'data');
    const queuedAt = (JSON.parse(raw!) as { queued_at: number }).queued_at;
    expect(queuedAt - 60_000).toBeGreaterThanOrEqual(submittedAt);
    expect(queuedAt - 60_000).toBeLessThanOrEqual(Date.now());
  });

  it('an id of the caller\'s own is written without queued_at, as before', async () => {
    const { c, keys } = client();
    await c.submit('f', null, { id: 'mine' });
    expect((await ingress(keys))[0]).toEqual({ id: 'mine', function: 'f', data: null });
  });

  it('in a submitMany: each drawn id with its own time, the others without', async () => {
    const { c, keys } = client();
    const a = c.drawId();
    const ids = await c.submitMany([
      { fn: 'f', options: { id: a } },
      { fn: 'f', options: { id: 'own' } },
    ]);
    expect(ids).toEqual([a, 'own']);
    const [first, second] = await ingress(keys);
    expect(typeof first!.queued_at).toBe('number');
    expect(second!.queued_at).toBeUndefined();
  });

  it('in a partitioned swarm: in the partition of the group, else of the dedupe key', async () => {
    const n = 4;
    const { c } = client({ partitions: n, keyPrefix: '{draw}:' });
    for (let i = 0; i < 40; i++) {
      expect(partitionOf(c.drawId({ group: `tenant-${i}` }), n)).toBe(partitionOfPlace(`tenant-${i}`, n));
      expect(partitionOf(c.drawId({ key: `k-${i}` }), n)).toBe(partitionOfPlace(`k-${i}`, n));
      expect(partitionOf(c.drawId({ group: `g-${i}`, key: 'other' }), n)).toBe(partitionOfPlace(`g-${i}`, n));
    }
  });

  it.each([
    ['an empty group', { group: '' }, /drawId: group must be a string of 1 to 128 bytes/],
    ['a group that is no string', { group: 7 }, /drawId: group must be a string/],
    ['an empty key', { key: '' }, /drawId: key must be a non-empty string/],
    ['a key longer than a submit takes', { key: 'k'.repeat(513) }, /drawId: key must be a non-empty string of at most 512 bytes/],
    ['a key with a lone surrogate', { key: 'a\ud800' }, /drawId: key must be .*well-formed Unicode/],
    ['options that are no object', null, /drawId: options must be an object/],
    ['options that are an array', [], /drawId: options must be an object/],
    ['an option it does not know (a misspelt group)', { grop: 'g' }, /drawId: unknown option "grop" \(known: group, key\)/],
  ])('refuses %s with a ConfigError naming it', (_, options, message) => {
    const { c } = client();
    let err: unknown;
    try {
      c.drawId(options as never);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(message);
  });
});

describe('the CLI submit --wait', () => {
  it("writes the task with queued_at, as a submit's drawn id", async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    let stdout = '';
    let stderr = '';
    const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env: { REDIS_URL: server.url } };
    const running = main(['submit', 'later', '{"n":1}', '--wait', '--key-prefix', o.keyPrefix], io);
    await until(async () => (await redis.llen(keys.newQueue)) > 0, 'the task queued');
    const [entry] = await ingress(keys);
    expect(typeof entry!.queued_at).toBe('number');
    const worker = new Worker({ redis: o, port: 0, logger: quiet });
    worker.addTaskFunction('later', async () => 'done');
    cleanup.push(() => worker.stop());
    await worker.start();
    expect(await running, stderr).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ id: entry!.id, outcome: 'succeeded', result: 'done' });
  });

  it.each([
    ['an empty group', ['--group', ''], /^task-swarm: submit: group must be/],
    ['a key too long', ['--key', 'k'.repeat(513)], /^task-swarm: submit: key must be/],
  ])('names a bad option (%s) as the submit\'s, as without --wait, and queues nothing', async (_, flags, message) => {
    const o = server.options();
    let stderr = '';
    const io = { stdout: { write: () => {} }, stderr: { write: (s: string) => (stderr += s) }, env: { REDIS_URL: server.url } };
    expect(await main(['submit', 'f', '--wait', ...flags, '--key-prefix', o.keyPrefix], io)).toBe(2);
    expect(stderr).toMatch(message);
    expect(await redis.llen(keysFor(o.keyPrefix).newQueue)).toBe(0);
  });
});
