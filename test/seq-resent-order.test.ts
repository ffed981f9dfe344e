/**
 * Events of two batches that both failed without reaching Redis (the connection's commands
 * failed before they were written or run: a dead link, a command timeout on a connection that
 * never delivered them) are sent again in the order they were emitted. The outbox put each
 * failed batch back first, as its failure came: the later batch's failure, coming second, went
 * ahead of the earlier one; emit.lua, which publishes only the events numbered above the last
 * published of the claim, then published the later batch's event and dropped the earlier ones
 * for good (before the numbering they were published, out of order).
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { EventOutbox } from '../src/effects/event-outbox.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('events of batches that failed unsent', () => {
  it('are sent again in the order emitted, and every one is published', async () => {
    const keys = keysFor('order:');
    await redis.hset(keys.task('t'), 'state', 'RUNNING', 'lease', '2:w');
    const sub = server.client();
    const got: string[] = [];
    sub.on('message', (_c: string, m: string) => got.push(m));
    await sub.subscribe(keys.events('t'));
    const conn = server.client();
    cleanup.push(async () => {
      sub.disconnect();
      conn.disconnect();
    });
    // the link dies: each command is failed, in the order sent, without reaching Redis
    let cut = false;
    const send = conn.sendCommand.bind(conn);
    (conn as unknown as { sendCommand: typeof conn.sendCommand }).sendCommand = ((command: Parameters<typeof conn.sendCommand>[0]) => {
      if (!cut) return send(command);
      setTimeout(() => command.reject(new Error('Connection is closed.')), 30);
      return command.promise;
    }) as typeof conn.sendCommand;
    const outbox = new EventOutbox(conn, keys, 100, () => {}, () => {});
    outbox.setOpen(true);
    let seq = 0;
    const ev = (message: string) => outbox.publish({ id: 't', lease: '2:w', channel: keys.events('t'), message, last: '=', seq: ++seq });
    ev('1');
    await until(() => got.length === 1, 'the first event heard');
    cut = true;
    ev('2');
    ev('3');
    await sleep(5); // its batch is out, unanswered
    ev('4'); // the next tick's batch, out behind it
    await sleep(100); // both failed
    cut = false;
    await until(() => got.length >= 4, 'every event heard', 3000).catch(() => undefined);
    await sleep(100);
    expect(got).toEqual(['1', '2', '3', '4']);
  });
});
