/**
 * A Client's subscriptions share one subscriber connection, made at the first subscribe. Each
 * subscribe's `ready` says its channel is live: every event published after it arrives.
 *
 * Found as a dashboard stream that said `: open` and never got its task's end (one in twenty,
 * under load): ioredis writes a SUBSCRIBE at once while the connection's handshake runs, which
 * puts the connection in subscriber mode before its ready check; ioredis then refuses the
 * check's INFO, drops the connection as failed, and the channels subscribed meanwhile were gone,
 * their SUBSCRIBEs resolved. A slow link (a proxy that holds each chunk) makes the handshake
 * long enough that every run sends subscribes inside it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { buildKeys } from '../src/keys.js';
import { resolveRedisConfig } from '../src/config.js';
import type { TaskEvent } from '../src/wire.js';
import { Redis } from 'ioredis';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';
import { startProxy } from './helpers/tcp-proxy.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.stop();
});

describe('Client.subscribe', () => {
  it('delivers the events of channels subscribed while the connection is still being made', async () => {
    const proxy = await startProxy('127.0.0.1', server.port);
    proxy.delay(100);
    const redis = server.options({ host: '127.0.0.1', port: proxy.port });
    const c = new Client({ redis });
    const publisher = new Redis(server.port);
    const keys = buildKeys(resolveRedisConfig(redis));
    const ids = Array.from({ length: 24 }, (_, i) => `early-${i}`);
    const got = new Map<string, TaskEvent[]>(ids.map((id) => [id, []]));
    try {
      // one every 20 ms from the first, which opens the connection: the handshake (a name, then
      // the ready check, each a round trip of 200 ms here) is under way for most of them
      const subs = [];
      for (const id of ids) {
        subs.push(c.subscribe(id, (ev) => got.get(id)!.push(ev)));
        await new Promise((r) => setTimeout(r, 20));
      }
      await Promise.all(subs.map((s) => s.ready));
      for (const id of ids) await publisher.publish(keys.events(id), JSON.stringify({ event: 'progress', data: id }));
      await until(async () => ids.every((id) => got.get(id)!.length === 1), 'every early channel got its event', 5000, 20).catch(() => {});
      expect(ids.filter((id) => got.get(id)!.length !== 1)).toEqual([]);
    } finally {
      await c.close();
      publisher.disconnect();
      await proxy.close();
    }
  }, 30_000);

  it("delivers a task's events when it subscribes in the tick that the last other subscription leaves", async () => {
    const redis = server.options();
    const c = new Client({ redis });
    const publisher = new Redis(server.port);
    const keys = buildKeys(resolveRedisConfig(redis));
    try {
      for (let round = 0; round < 5; round++) {
        const first = c.subscribe(`first-${round}`, () => {});
        await first.ready;
        const got: TaskEvent[] = [];
        // the UNSUBSCRIBE and the SUBSCRIBE go out together
        first();
        const second = c.subscribe(`second-${round}`, (ev) => got.push(ev));
        await second.ready;
        expect(await publisher.publish(keys.events(`second-${round}`), JSON.stringify({ event: 'progress', data: round }))).toBe(1);
        await until(async () => got.length === 1, `round ${round}: the event of the channel subscribed as the other left`, 5000, 10);
        expect(got[0]).toMatchObject({ event: 'progress', data: round });
        second();
      }
    } finally {
      await c.close();
      publisher.disconnect();
    }
  }, 30_000);
});
