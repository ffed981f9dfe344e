/** Task events wait, in order and within a bound, while Redis is unreachable. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { EventOutbox } from '../src/event-outbox.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server.stop();
});

describe('EventOutbox', () => {
  it('holds events while the connection is down, drops the oldest past its limit, and sends the rest in order', async () => {
    const sub = server.client();
    const got: string[] = [];
    sub.on('message', (_c: string, m: string) => got.push(m));
    await sub.subscribe('ev');
    const pub = new Redis({ host: server.host, port: server.port, lazyConnect: true });
    const drops: number[] = [];
    const outbox = new EventOutbox(pub, 3, (n) => drops.push(n));
    for (const n of [1, 2, 3, 4, 5]) outbox.publish('ev', String(n)); // not connected yet
    expect(outbox.size).toBe(3);
    expect(outbox.dropped).toBe(2);
    expect(drops).toEqual([1]);
    expect(got).toEqual([]);
    await pub.connect();
    await until(() => got.length === 3, 'held events delivered');
    outbox.publish('ev', '6');
    await until(() => got.length === 4, 'live event delivered');
    expect(got).toEqual(['3', '4', '5', '6']);
    pub.disconnect();
  });
});
