/**
 * Task events: fenced by the task's lease (emit.lua), held in order and within a bound while the
 * outbox is closed (Redis lost, not reconciled), and sent when it opens.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { EventOutbox } from '../src/effects/event-outbox.js';
import { emitEvents } from '../src/effects/leases.js';
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
  let seq = 0;
  const ev = (message: string, lease = '2:w') => outbox.publish({ id: 't', lease, channel: keys.events('t'), message, last: '=', seq: ++seq });
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

  it('publishes each event once, though its batch is sent again (its first sending ran, its answer lost); a later claim numbers its own from 1', async () => {
    const { keys, got } = await world('again:');
    const e = (message: string, seq: number, lease = '2:w') => ({ id: 't', lease, channel: keys.events('t'), message, last: '=', seq });
    expect(await emitEvents(redis, keys, [e('a', 1), e('b', 2)])).toEqual(['published', 'published']);
    // sent again after its answer was lost, with what followed it
    expect(await emitEvents(redis, keys, [e('a', 1), e('b', 2), e('c', 3)])).toEqual(['published', 'published', 'published']);
    await until(() => got.length >= 3, 'three events heard');
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual(['a', 'b', 'c']);
    // the next claim of the task (its retry, a requeue) numbers its events from 1 again
    await redis.hset(keys.task('t'), 'lease', '3:w');
    expect(await emitEvents(redis, keys, [e('d', 1, '3:w')])).toEqual(['published']);
    await until(() => got.length === 4, 'the next claim heard');
    expect(got).toEqual(['a', 'b', 'c', 'd']);
  });
});
