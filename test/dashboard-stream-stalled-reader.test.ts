/**
 * A dashboard page's event streams are written to for as long as they are open: the status at
 * every refreshInterval, a followed task's events as they come. A reader that keeps its
 * connection open and stops reading (a laptop asleep with its tab open, a stuck proxy) had
 * every one of them buffered for it, in the dashboard's memory, without end: a status a second
 * is megabytes an hour per such page, for as long as the process lived.
 *
 * A status is a snapshot, superseded by the next: one is not written to a page still behind
 * on the last. A task's events are not: a page that far behind is closed, its backlog freed
 * (its EventSource opens the stream again once it reads, and the page reads the task again).
 */
import { connect, type Socket } from 'node:net';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, createDashboard } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** the dashboard served by our own server, which keeps each response: what it buffers for its reader */
async function served(o: ReturnType<RedisServer['options']>) {
  const d = createDashboard({ redis: o, refreshInterval: 100 });
  const responses: ServerResponse[] = [];
  const http = createServer((req, res) => {
    responses.push(res);
    d.handler(req, res);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  cleanup.push(async () => {
    await d.close();
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
  });
  return { port: (http.address() as AddressInfo).port, responses };
}

/** a reader that asks for `path`, reads its first bytes, then reads no more (and keeps the connection) */
async function stalledReader(port: number, path: string): Promise<Socket> {
  const s = connect(port, '127.0.0.1');
  cleanup.push(async () => void s.destroy());
  s.on('error', () => {});
  await new Promise<void>((resolve) => {
    s.once('data', () => {
      s.pause();
      resolve();
    });
    s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  });
  return s;
}

const MB = 1024 * 1024;

describe('a dashboard page that stops reading its streams', () => {
  it('status stream: is not sent status after status to buffer (about 1 MB each, ten a second)', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    // a status of about 1 MB: schedules with large data (each is listed whole)
    for (let i = 0; i < 16; i++) await c.schedule(`s-${i}`, { every: 3_600_000 }, 'f', 'x'.repeat(64 * 1024));
    const { port, responses } = await served(o);
    await stalledReader(port, '/api/stream');
    await sleep(4000);
    const buffered = responses[0]!.writableLength;
    // before: 30 MB and more, growing for as long as the page stayed open
    expect(buffered).toBeLessThan(4 * MB);
  }, 30_000);

  it('task stream: is closed once far behind, its backlog freed', async () => {
    const o = server.options();
    const { port, responses } = await served(o);
    const reader = await stalledReader(port, '/api/task/chatty/stream');
    // a chatty task: 64 KB events, as fast as Redis takes them
    const channel = `${o.keyPrefix}task-chatty-events`;
    await until(async () => ((await redis.pubsub('NUMSUB', channel)) as [string, number])[1] === 1, 'the stream subscribed');
    const event = JSON.stringify({ event: 'progress', data: 'x'.repeat(64 * 1024), at: 1 });
    for (let i = 0; i < 800; i++) await redis.publish(channel, event);
    await sleep(500);
    const res = responses[0]!;
    // before: all 50 MB buffered, the stream open
    expect(res.writableLength).toBeLessThan(20 * MB);
    expect(res.destroyed).toBe(true);
    // and the channel is left with it
    await until(async () => ((await redis.pubsub('NUMSUB', channel)) as [string, number])[1] === 0, 'the channel left');
    reader.destroy();
  }, 30_000);
});
