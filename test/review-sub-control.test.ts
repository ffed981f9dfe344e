/**
 * A worker's control subscription (one PSUBSCRIBE of the control pattern, made at start) must
 * outlive whatever happens to its subscriber connection: a worker that no longer hears `stop`
 * runs a task nobody can stop, while it is otherwise healthy (registered, claiming,
 * heartbeating). It was lost for good at start when Redis dropped the subscriber connection
 * while the command connection got through (a restart, maxclients), three reconnects in a row:
 * ioredis then failed the queued PSUBSCRIBE (maxRetriesPerRequest) and nothing made it again.
 * At a reconnect, the re-PSUBSCRIBE (the worker's: ioredis's own is turned off) lost with the
 * link before its reply, then three failed reconnects, is sent again by ioredis (its unanswered
 * commands are kept apart from what those reconnects fail): the second test keeps it so.
 * A proxy that knows the subscriber connection by its name (CLIENT SETNAME) cuts only that one.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.stop();
});

/**
 * A proxy to Redis that cuts connections named `*:subscriber` while `refuse` is set, and, when
 * `cutOn` is set, cuts the subscriber connection that sends that text (then refuses as above).
 */
async function subscriberCutter(port: number) {
  const state = { refuse: false, cutOn: undefined as string | undefined, cuts: 0 };
  const live = new Set<Socket>();
  const srv: Server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port });
    live.add(client);
    let sub = false;
    const drop = () => {
      live.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      if (/:subscriber\r\n/.test(text)) sub = true;
      if (sub && (state.refuse || (state.cutOn && text.toUpperCase().includes(state.cutOn)))) {
        if (state.cutOn) state.refuse = true;
        state.cutOn = undefined;
        state.cuts++;
        return drop();
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as { port: number }).port,
    state,
    /** cut every subscriber connection now (they reconnect) */
    cutSubscribers() {
      for (const s of live) s.destroy();
    },
    close: () => new Promise<void>((r) => (srv.close(() => r()), [...live].forEach((s) => s.destroy()))),
  };
}

function worker(redis: Record<string, unknown>, logs: string[]) {
  const w = new Worker({
    port: 0,
    redis,
    heartbeatInterval: 500,
    fetchTaskInterval: 300,
    logger: { debug: () => {}, info: () => {}, warn: (m: unknown) => logs.push(String(m)), error: (m: unknown) => logs.push(String(m)) },
  });
  w.addTaskFunction('long', (t) => new Promise((_, reject) => t.signal.addEventListener('abort', () => reject(new Error('stopped')))));
  return w;
}

describe("a worker's control subscription", () => {
  it('is made again when the subscriber connection was refused at start', async () => {
    const proxy = await subscriberCutter(server.port);
    const redis = server.options({ host: '127.0.0.1', port: proxy.port });
    const logs: string[] = [];
    const w = worker(redis, logs);
    const c = new Client({ redis: server.options({ keyPrefix: redis.keyPrefix }) });
    const admin = server.client();
    try {
      proxy.state.refuse = true;
      // start() resolves once the worker hears control messages: not while refused
      let up = false;
      const started = w.start().then(() => void (up = true));
      // ioredis gives up on a command after three reconnects (50 + 100 + 150 ms)
      await until(async () => proxy.state.cuts >= 4, 'the subscriber connection cut four times', 5000);
      await new Promise((r) => setTimeout(r, 300));
      expect(up, 'started while the control subscription was refused').toBe(false);
      proxy.state.refuse = false;
      await started;
      const id = await c.submit('long', null);
      await until(async () => (await c.get(id))?.state === 'RUNNING', 'the task running', 10_000);
      // (the control pattern subscribed again before the claim: start() waited for it)
      await until(async () => Number(await admin.pubsub('NUMPAT')) >= 1, 'the control pattern subscribed again', 10_000);
      await c.control(id, 'stop');
      expect(await c.wait(id, { timeout: 5000 }).catch((e: Error) => e.message)).toMatchObject({ outcome: 'stopped' });
    } finally {
      await w.stop().catch(() => {});
      await c.close();
      await proxy.close();
    }
  }, 30_000);

  it("is made again when ioredis's own resubscribe after a reconnect was lost", async () => {
    const proxy = await subscriberCutter(server.port);
    const redis = server.options({ host: '127.0.0.1', port: proxy.port });
    const logs: string[] = [];
    const w = worker(redis, logs);
    const c = new Client({ redis: server.options({ keyPrefix: redis.keyPrefix }) });
    const admin = server.client();
    try {
      await w.start();
      const pattern = `${String(redis.keyPrefix)}task-*-control`;
      const patterns = async () => Number(await admin.pubsub('NUMPAT'));
      await until(async () => (await patterns()) >= 1, 'the control pattern subscribed', 5000);
      // the next PSUBSCRIBE (once reconnected: the worker's own, ioredis's is turned off) is cut
      // with its link, and the subscriber refused for three reconnects and more
      proxy.state.cutOn = 'PSUBSCRIBE';
      proxy.cutSubscribers();
      await until(async () => proxy.state.refuse, 'the resubscribe cut', 5000);
      await new Promise((r) => setTimeout(r, 800));
      proxy.state.refuse = false;
      const id = await c.submit('long', null);
      await until(async () => (await c.get(id))?.state === 'RUNNING', 'the task running', 10_000);
      await until(async () => Number(await admin.pubsub('NUMPAT')) >= 1, 'the control pattern subscribed again', 10_000).catch(() => {});
      expect(((await admin.call('PUBSUB', 'NUMPAT')) as number) >= 1 ? pattern : 'no pattern subscribed').toBe(pattern);
      await c.control(id, 'stop');
      expect(await c.wait(id, { timeout: 5000 }).catch((e: Error) => e.message)).toMatchObject({ outcome: 'stopped' });
    } finally {
      await w.stop().catch(() => {});
      await c.close();
      admin.disconnect();
      await proxy.close();
    }
  }, 30_000);
});
