/**
 * A worker claims only while its control subscription is live, and learns it is lost when its
 * subscriber connection closes. A connection can die without closing on our side: Redis (or a
 * NAT, a firewall, a Redis restarted behind a partition) drops it, and nothing reaches us, no
 * FIN nor RST. A subscriber sends nothing of its own, so nothing shows the loss: the worker
 * went on claiming, deaf to every `stop`, until TCP keepalive gave up (two hours by default).
 * Here a proxy drops the subscriber connection on Redis's side and leaves ours open and silent;
 * the worker must find it silent, make it again, and hear the next task's stop.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Client, Worker, type TaskEvent } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { abortableTask } from './helpers/abortable-task.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

/** A proxy to Redis whose `silence()` cuts the subscriber connections' Redis side and mutes ours */
async function silencer(port: number) {
  const state = { subscribers: 0 };
  const links = new Set<{ client: Socket; upstream: Socket; sub: boolean; mute: boolean }>();
  // (half-open allowed: a FIN the worker sends on a dead link meets nobody either)
  const srv: Server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ host: '127.0.0.1', port });
    const link = { client, upstream, sub: false, mute: false };
    links.add(link);
    const drop = () => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    // (Redis's side closing is not passed on once muted: that is the silent death)
    upstream.on('error', () => link.mute || drop()).on('close', () => link.mute || drop());
    client.on('data', (chunk: Buffer) => {
      if (!link.sub && /:subscriber\r\n/.test(chunk.toString('latin1'))) {
        link.sub = true;
        state.subscribers++;
      }
      if (!link.mute) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => link.mute || client.write(chunk));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as { port: number }).port,
    state,
    silence() {
      for (const l of links)
        if (l.sub) {
          l.mute = true;
          l.upstream.destroy();
        }
    },
    close: () =>
      new Promise<void>((r) => {
        for (const l of links) {
          l.client.destroy();
          l.upstream.destroy();
        }
        srv.close(() => r());
      }),
  };
}

describe('a subscriber connection that died silently', () => {
  it('is found silent and made again: a stop sent as the next task starts is heard', async () => {
    const o = server.options();
    const proxy = await silencer(server.port);
    const task = abortableTask(4000, { announce: true });
    const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
    const w = new Worker({ port: 0, redis: { ...o, host: '127.0.0.1', port: proxy.port }, heartbeatInterval: 500, fetchTaskInterval: 300, logger: quiet });
    w.addTaskFunction('slow', task.fn);
    const c = new Client({ redis: o });
    const admin = server.client();
    cleanup.push(
      () => proxy.close(),
      async () => admin.disconnect(),
      () => c.close(),
      () => w.stop(),
    );
    await w.start();
    proxy.silence();
    // Redis has lost the subscription; the worker's socket is open and hears nothing
    await until(async () => Number(await admin.call('PUBSUB', 'NUMPAT')) === 0, 'the subscription gone from Redis');
    // (the worker's check: a PING each heartbeat, unanswered within the command timeout, 1 s
    // here; ioredis then ends the socket, destroyed 2 s on as nothing answers)
    await until(() => proxy.state.subscribers >= 2, 'a new subscriber connection', 10_000);
    await until(async () => Number(await admin.call('PUBSUB', 'NUMPAT')) >= 1, 'subscribed again', 10_000);
    const sent: string[] = [];
    const sub = c.subscribe('after-silence', (e: TaskEvent) => {
      if (e.event !== 'started') return;
      sent.push(e.event);
      void c.control('after-silence', 'stop');
    });
    await sub.ready;
    await c.submit('slow', null, { id: 'after-silence' });
    const t = await c.wait('after-silence', { timeout: 15_000 });
    sub();
    expect(sent).toEqual(['started']);
    expect(t).toMatchObject({ outcome: 'stopped' });
    expect(task.seen).toEqual({ ran: 1, aborted: 1 });
  }, 30_000);

  it('is not taken for one when a task holds the event loop past the check', async () => {
    const o = server.options();
    const logs: string[] = [];
    const keep = (m: unknown) => void logs.push(String(m));
    const w = new Worker({ port: 0, redis: o, heartbeatInterval: 500, fetchTaskInterval: 300, logger: { debug: () => {}, info: () => {}, warn: keep, error: keep } });
    w.addTaskFunction('busy', async () => {
      const end = Date.now() + 2500;
      while (Date.now() < end);
      return 'done';
    });
    const c = new Client({ redis: o });
    cleanup.push(
      () => c.close(),
      () => w.stop(),
    );
    await w.start();
    // (the PING of the check is sent, then the loop is held past its timeout)
    await new Promise((r) => setTimeout(r, 450));
    const id = await c.submit('busy', null);
    expect(await c.wait(id, { timeout: 15_000 })).toMatchObject({ outcome: 'succeeded' });
    await new Promise((r) => setTimeout(r, 1500));
    expect(logs.filter((l) => /subscriber connection silent/.test(l))).toEqual([]);
  }, 30_000);
});
