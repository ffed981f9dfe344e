/**
 * A worker hears control messages through one PSUBSCRIBE on its subscriber connection, made
 * asynchronously, and pub/sub keeps nothing for a subscriber that comes later. A worker that
 * claimed before Redis had run that PSUBSCRIBE started tasks whose `stop`, sent as soon as they
 * ran, was lost: the task ran to its end. So it was after the subscriber connection came back
 * (the subscription is made again then). The window is made wide here by a proxy that slows
 * only what the worker's subscriber connection sends (a slow link on that connection alone);
 * the command connection and the client reach Redis at once.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Client, Worker, type TaskEvent, type TaskFunction } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { abortableTask } from './helpers/abortable-task.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

/**
 * A proxy to Redis that passes what a connection named `*:subscriber` (CLIENT SETNAME, its first
 * command) sends `lag` ms late, from that command on, in order; replies and every other
 * connection flow at once.
 */
async function slowSubscriber(port: number, lag: number) {
  const state = { subscribers: 0 };
  const live = new Set<Socket>();
  const srv: Server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port });
    live.add(client);
    let slow = false;
    const drop = () => {
      live.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    const held: { chunk: Buffer; due: number }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const pump = () => {
      timer = undefined;
      const now = Date.now();
      while (held.length && held[0]!.due <= now) if (!upstream.destroyed) upstream.write(held.shift()!.chunk);
      if (held.length) timer = setTimeout(pump, held[0]!.due - now);
    };
    client.on('close', () => clearTimeout(timer));
    client.on('data', (chunk: Buffer) => {
      if (!slow && /:subscriber\r\n/.test(chunk.toString('latin1'))) {
        slow = true;
        state.subscribers++;
      }
      if (!slow) return void upstream.write(chunk);
      held.push({ chunk, due: Date.now() + lag });
      if (!timer) pump();
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as { port: number }).port,
    state,
    /** close the subscriber connections now (ioredis reconnects them, through the proxy) */
    cutSubscribers() {
      for (const s of live) s.destroy();
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of live) s.destroy();
        srv.close(() => r());
      }),
  };
}

const LAG = 1000;
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

async function setup(fn: TaskFunction) {
  const o = server.options();
  const proxy = await slowSubscriber(server.port, LAG);
  const w = new Worker({ port: 0, redis: { ...o, host: '127.0.0.1', port: proxy.port }, fetchTaskInterval: 20_000, logger: quiet });
  w.addTaskFunction('slow', fn);
  const c = new Client({ redis: o });
  const admin = server.client();
  cleanup.push(
    () => proxy.close(),
    async () => admin.disconnect(),
    () => c.close(),
    () => w.stop(),
  );
  return { w, c, admin, proxy };
}

/** submit a `slow` task and send it `stop` as soon as it says it started; resolves with how it ended */
async function stopOnStart(c: Client, id: string) {
  const sent: string[] = [];
  const sub = c.subscribe(id, (e: TaskEvent) => {
    if (e.event !== 'started') return;
    sent.push(e.event);
    void c.control(id, 'stop');
  });
  await sub.ready;
  await c.submit('slow', null, { id });
  const t = await c.wait(id, { timeout: 15_000 });
  sub();
  expect(sent, 'the stop sent on the started event').toEqual(['started']);
  return t;
}

describe("a stop sent as soon as a task starts, while the worker's control subscription is slow to be made", () => {
  it('stops a task claimed by a worker that has just started', async () => {
    const task = abortableTask(3000, { announce: true });
    const { w, c } = await setup(task.fn);
    await w.start();
    const t = await stopOnStart(c, 'at-start');
    expect(t).toMatchObject({ outcome: 'stopped' });
    expect(task.seen).toEqual({ ran: 1, aborted: 1 });
  }, 30_000);

  it('start() resolves once Redis runs the subscription', async () => {
    const { w, admin } = await setup(abortableTask(10, { announce: true }).fn);
    await w.start();
    expect(Number(await admin.call('PUBSUB', 'NUMPAT'))).toBeGreaterThanOrEqual(1);
  }, 30_000);

  it('stops a task claimed after the subscriber connection came back, before it was subscribed again', async () => {
    const task = abortableTask(3000, { announce: true });
    const { w, c, admin, proxy } = await setup(task.fn);
    await w.start();
    await until(async () => Number(await admin.call('PUBSUB', 'NUMPAT')) >= 1, 'the control subscription');
    proxy.cutSubscribers();
    // the worker has seen its subscriber connection close: it is connecting again
    await until(() => proxy.state.subscribers >= 2, 'the subscriber connection made again');
    expect(Number(await admin.call('PUBSUB', 'NUMPAT')), 'no subscription yet').toBe(0);
    const t = await stopOnStart(c, 'after-reconnect');
    expect(t).toMatchObject({ outcome: 'stopped' });
    expect(task.seen).toEqual({ ran: 1, aborted: 1 });
  }, 30_000);
});
