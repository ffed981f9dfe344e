/**
 * A Client's subscriber connection waits out an outage (no retry limit): a SUBSCRIBE handed to
 * it while Redis is away waits in ioredis's queue until Redis is back. A process that goes on
 * with its waits and subscriptions through a long outage (a wait with a timeout in a loop, a
 * dashboard page opened again and again) left two commands there for each, a SUBSCRIBE and its
 * UNSUBSCRIBE, and with the SUBSCRIBE's promise the whole wait that made it (its handlers, its
 * last read of the task): memory that grew with every wait for as long as the outage lasted,
 * and a burst of thousands of commands for channels no one follows once Redis came back.
 *
 * A channel is subscribed once the connection is ready, not queued for it: one left before then
 * costs nothing, and a wait made during the outage still gets its task once Redis is back.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { quiet } from './helpers/order.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** the commands the client's subscriber connection holds for Redis to come back (ioredis's offline queue) */
const heldBySubscriber = (c: Client) => (c as unknown as { sub?: { offlineQueue: { length: number } } }).sub?.offlineQueue.length ?? 0;

describe('waits and subscriptions made while Redis is away', () => {
  it('leave nothing queued on the subscriber connection once they are over, and a wait still open gets its task when Redis is back', async () => {
    const o = server.options();
    const c = new Client({ redis: o, logger: quiet });
    cleanup.push(() => c.close());
    // the subscriber connection in place, with one channel subscribed across the outage
    const kept: string[] = [];
    const off = c.subscribe('kept', (ev) => kept.push(ev.event));
    await off.ready;
    const id = 'submitted-after';

    await server.kill();
    await sleep(300);
    // a wait open through the outage, for a task submitted once Redis is back (its events, not
    // a poll, tell the wait it ended)
    const open = c.wait(id, { timeout: 30_000, pollInterval: 60_000 });
    open.catch(() => {}); // (awaited below: a failure before then is not an unhandled one)
    // 400 waits that time out, 400 subscriptions left, all while Redis is away
    await Promise.all(Array.from({ length: 400 }, (_, i) => c.wait(`gone-${i}`, { timeout: 50 }).catch(() => {})));
    for (let i = 0; i < 400; i++) {
      const s = c.subscribe(`left-${i}`, () => {});
      s.ready.catch(() => {});
      s();
    }
    await sleep(200);
    // what made 1,600 commands wait for Redis before: at most the open wait's own
    expect(heldBySubscriber(c)).toBeLessThan(5);

    await server.restart();
    const w = new Worker({ port: 0, redis: o, logger: quiet });
    w.addTaskFunction('f', async (t) => (t.data as number) * 2);
    cleanup.push(() => w.stop());
    await w.start();
    await c.submit('f', 1, { id });
    expect((await open).result).toBe(2);
    // subscribed again after the outage: the kept channel, none of those left
    await until(async () => (await redis.pubsub('CHANNELS')).length === 1, 'one channel subscribed');
    expect(await redis.pubsub('CHANNELS')).toEqual([`${o.keyPrefix}task-kept-events`]);
    await redis.publish(`${o.keyPrefix}task-kept-events`, JSON.stringify({ event: 'hello', data: null, at: 1 }));
    await until(() => kept.includes('hello'), 'the kept channel hears its event');
    off();
    await until(async () => (await redis.pubsub('CHANNELS')).length === 0, 'no channel subscribed once it is left');
  }, 60_000);
});
