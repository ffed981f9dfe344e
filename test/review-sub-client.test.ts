/**
 * A Client's subscriptions across its subscriber connection's reconnects: what is left stays
 * left, and what `ready` says is live is live.
 * - An unsubscribe made while a reconnect's handshake runs went out at once (UNSUBSCRIBE may
 *   run while Redis loads), before ioredis resubscribed, once ready, every channel it had before
 *   the drop: the channel left was subscribed again, for good (each later reconnect subscribes
 *   it again), its messages read and thrown away.
 * - A SUBSCRIBE that ioredis failed without Redis refusing it (the reconnect's AUTH refused, a
 *   user disabled for a moment: ioredis then fails every command it holds) was taken as done:
 *   `ready` resolved, and the channel was never subscribed, even once the connection was back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Client } from '../src/index.js';
import { buildKeys } from '../src/keys.js';
import { resolveRedisConfig } from '../src/config.js';
import type { TaskEvent } from '../src/wire.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';
import { startProxy } from './helpers/tcp-proxy.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.stop();
});

const subscriberOf = (c: Client) => (c as unknown as { sub: Redis }).sub;

describe('Client subscriptions across reconnects', () => {
  it('an unsubscribe made while the reconnect handshake runs stays made', async () => {
    const proxy = await startProxy('127.0.0.1', server.port);
    const redis = server.options({ host: '127.0.0.1', port: proxy.port });
    const c = new Client({ redis });
    const admin = server.client();
    const channel = buildKeys(resolveRedisConfig(redis)).events('left');
    const numsub = async () => Number(((await admin.pubsub('NUMSUB', channel)) as [string, number])[1]);
    try {
      const off = c.subscribe('left', () => {});
      await off.ready;
      expect(await numsub()).toBe(1);
      // dropped, then back over a slow link: the handshake takes round trips of 400 ms
      proxy.reset();
      proxy.heal();
      proxy.delay(200);
      const sub = subscriberOf(c);
      await until(async () => sub.status === 'connect', 'the subscriber reconnecting, in its handshake', 5000, 5);
      off();
      await until(async () => sub.status === 'ready', 'the subscriber ready again', 10_000, 5);
      proxy.heal();
      await new Promise((r) => setTimeout(r, 300));
      expect(await numsub()).toBe(0);
    } finally {
      await c.close();
      admin.disconnect();
      await proxy.close();
    }
  }, 30_000);

  it('a SUBSCRIBE failed by a refused reconnect is made again once the connection is back', async () => {
    const admin = server.client();
    const user = `sub-user-${process.pid}`;
    await admin.call('ACL', 'SETUSER', user, 'on', '>pw', 'allcommands', 'allkeys', 'allchannels');
    const redis = server.options({ username: user, password: 'pw' });
    const c = new Client({ redis });
    const publisher = new Redis(server.port);
    const keys = buildKeys(resolveRedisConfig(redis));
    const got: TaskEvent[] = [];
    try {
      await c.subscribe('before', () => {}).ready;
      // the user disabled for a moment: every reconnect's AUTH is refused meanwhile
      await admin.call('ACL', 'SETUSER', user, 'off');
      await admin.call('CLIENT', 'KILL', 'USER', user);
      const sub = subscriberOf(c);
      await until(async () => sub.status !== 'ready', 'the subscriber dropped', 5000, 5);
      const s = c.subscribe('during', (ev) => got.push(ev));
      await new Promise((r) => setTimeout(r, 1500));
      await admin.call('ACL', 'SETUSER', user, 'on');
      await s.ready;
      await until(async () => sub.status === 'ready', 'the subscriber ready again', 10_000, 5);
      // `ready` said it was live: an event published now arrives
      await until(async () => (await publisher.publish(keys.events('during'), JSON.stringify({ event: 'progress', data: 1 }))) > 0 || null, 'a subscriber of the channel', 3000, 100).catch(() => {});
      await until(async () => got.length > 0, 'the event', 2000).catch(() => {});
      expect(got.map((e) => e.event)).toContain('progress');
    } finally {
      await admin.call('ACL', 'SETUSER', user, 'on');
      await c.close();
      publisher.disconnect();
      admin.disconnect();
    }
  }, 30_000);
  it('a subscription left, or a client closed, while the first handshake runs: nothing stays subscribed, nothing hangs', async () => {
    const proxy = await startProxy('127.0.0.1', server.port);
    proxy.delay(150);
    const redis = server.options({ host: '127.0.0.1', port: proxy.port });
    const admin = server.client();
    const keys = buildKeys(resolveRedisConfig(redis));
    const numsub = async (id: string) => Number(((await admin.pubsub('NUMSUB', keys.events(id))) as [string, number])[1]);
    try {
      const c = new Client({ redis });
      const gone = c.subscribe('gone', () => {});
      const sub = subscriberOf(c);
      await until(async () => sub.status === 'connect', 'the subscriber in its handshake', 5000, 5);
      gone();
      const kept = c.subscribe('kept', () => {});
      await kept.ready;
      await gone.ready;
      expect([await numsub('gone'), await numsub('kept')]).toEqual([0, 1]);
      await c.close();

      const d = new Client({ redis });
      const early = d.subscribe('early', () => {});
      await until(async () => subscriberOf(d).status === 'connect', 'the subscriber in its handshake', 5000, 5);
      const t0 = Date.now();
      await d.close();
      await early.ready;
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(subscriberOf(d).status).toBe('end');
      expect(await numsub('early')).toBe(0);
    } finally {
      admin.disconnect();
      await proxy.close();
    }
  }, 30_000);
  it('many subscribes held by one handshake: no warning of a listener leak', async () => {
    const proxy = await startProxy('127.0.0.1', server.port);
    proxy.delay(100);
    const redis = server.options({ host: '127.0.0.1', port: proxy.port });
    const c = new Client({ redis });
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      const first = c.subscribe('first', () => {});
      await until(async () => subscriberOf(c).status === 'connect', 'the subscriber in its handshake', 5000, 5);
      const rest = Array.from({ length: 30 }, (_, i) => c.subscribe(`held-${i}`, () => {}));
      await Promise.all([first, ...rest].map((s) => s.ready));
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => /MaxListeners/.test(w))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await c.close();
      await proxy.close();
    }
  }, 30_000);
});
