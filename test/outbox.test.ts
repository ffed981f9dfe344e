/**
 * Task events: fenced by the task's lease (emit.lua), held in order and within a bound while the
 * outbox is closed (Redis lost, not reconciled), and sent when it opens.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { EventOutbox } from '../src/effects/event-outbox.js';
import { until } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';
import type { RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
let redis: Redis;
redisPerFile((s, r) => {
  server = s;
  redis = r;
});

async function world(prefix: string) {
  const keys = keysFor(prefix);
  await redis.hset(keys.task('t'), 'state', 'RUNNING', 'lease', '2:w');
  const sub = server.client();
  const got: string[] = [];
  sub.on('message', (_c: string, m: string) => got.push(m));
  await sub.subscribe(keys.events('t'));
  const fenced: { id: string; lease: string }[] = [];
  const drops: number[] = [];
  const conn = server.client();
  const outbox = new EventOutbox(conn, keys, 3, (n) => drops.push(n), (f) => fenced.push(...f));
  const ev = (message: string, lease = '2:w') => outbox.publish({ id: 't', lease, channel: keys.events('t'), message, last: '=' });
  return { keys, got, fenced, drops, outbox, ev };
}

describe('EventOutbox', () => {
  it('holds events while closed, drops the oldest past its limit, and sends the rest in order when it opens', async () => {
    const { got, drops, outbox, ev } = await world('hold:');
    for (const n of [1, 2, 3, 4, 5]) ev(String(n));
    expect(outbox.size).toBe(3);
    expect(outbox.dropped).toBe(2);
    expect(drops).toEqual([1]); // reported when dropping starts (and every thousand), not per event
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual([]);
    outbox.setOpen(true);
    await until(() => got.length === 3, 'held events delivered');
    ev('6');
    await until(() => got.length === 4, 'live event delivered');
    expect(got).toEqual(['3', '4', '5', '6']);
  });

  it("publishes only under the task's current lease: a stale copy's events are refused and reported", async () => {
    const { keys, got, fenced, outbox, ev } = await world('fence:');
    outbox.setOpen(true);
    ev('stale', '1:old');
    ev('current');
    await until(() => fenced.length === 1 && got.length === 1, 'one published, one fenced');
    expect(got).toEqual(['current']);
    expect(fenced).toEqual([{ id: 't', lease: '1:old' }]);
    // after the end, no event at all: the task's channel is closed to every copy
    await redis.hset(keys.task('t'), 'state', 'END');
    ev('late');
    await until(() => fenced.length === 2, 'the late event fenced');
    expect(got).toEqual(['current']);
  });
});
