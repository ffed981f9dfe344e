/**
 * A drawn id's `queued_at` is the time of its first submit: the first that was sent. A submit
 * refused before anything went to Redis (bad data, another task of its submitMany refused, an
 * id drawn for another partition) kept its time all the same, and the submit that queued the
 * task later wrote that earlier time: the pickup metric counted the caller's own delay.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, ConfigError, InvalidTaskError } from '../src/index.js';
import { partitionOf, partitionOfPlace, partitionPrefix } from '../src/partitions.js';
import { keysFor } from './properties/harness.js';
import { quiet } from './helpers/order.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { startProxy } from './helpers/tcp-proxy.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

function client(extra: Record<string, unknown> = {}) {
  const o = server.options(extra);
  const c = new Client({ redis: o, logger: quiet });
  cleanup.push(() => c.close());
  return { c, keys: keysFor(o.keyPrefix) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

/** the queued_at of the one entry on the ingress */
async function queuedAt(keys: ReturnType<typeof keysFor>): Promise<unknown> {
  const entries = await redis.lrange(keys.newQueue, 0, -1);
  expect(entries).toHaveLength(1);
  return (JSON.parse(entries[0]!) as { queued_at?: unknown }).queued_at;
}

describe('the first submit of a drawn id', () => {
  it('is not one refused for its data before anything was sent', async () => {
    const { c, keys } = client();
    const id = c.drawId();
    expect(await rejection(c.submit('f', { n: 1n }, { id }))).toBeInstanceOf(InvalidTaskError);
    await sleep(200);
    const before = Date.now();
    await c.submit('f', { n: 1 }, { id });
    expect(await queuedAt(keys)).toBeGreaterThanOrEqual(before);
  });

  it('is not a submitMany refused for another of its tasks', async () => {
    const { c, keys } = client();
    const id = c.drawId();
    const refused = c.submitMany([
      { fn: 'f', options: { id } },
      { fn: 'f', options: { priority: 5000 } },
    ]);
    expect(await rejection(refused)).toBeInstanceOf(ConfigError);
    await sleep(200);
    const before = Date.now();
    await c.submitMany([{ fn: 'f', options: { id } }]);
    expect(await queuedAt(keys)).toBeGreaterThanOrEqual(before);
  });

  it('is not one refused for a group of another partition', async () => {
    const n = 4;
    const { c } = client({ partitions: n, keyPrefix: '{first-submit}:' });
    let id = c.drawId();
    while (partitionOf(id, n) === partitionOfPlace('g', n)) id = c.drawId();
    expect(await rejection(c.submit('f', null, { id, group: 'g' }))).toBeInstanceOf(ConfigError);
    await sleep(200);
    const before = Date.now();
    await c.submit('f', null, { id });
    expect(await queuedAt(keysFor(partitionPrefix('{first-submit}:', partitionOf(id, n), n)))).toBeGreaterThanOrEqual(before);
  });

  it('but is one still unanswered: a submit of the id made meanwhile writes the same entry', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const proxy = await startProxy('127.0.0.1', server.port);
    const c = new Client({ redis: { ...o, port: proxy.port }, logger: quiet });
    cleanup.push(() => proxy.close(), () => c.close());
    await c.get('warm-up');
    const id = c.drawId();
    proxy.delay(300);
    const first = c.submit('f', { n: 1 }, { id });
    await sleep(100);
    const second = c.submit('f', { n: 1 }, { id });
    expect(await Promise.all([first, second])).toEqual([id, id]);
    proxy.heal();
    expect(typeof (await queuedAt(keys))).toBe('number');
  });
});
