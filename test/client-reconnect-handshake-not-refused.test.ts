/**
 * Redis back after an outage longer than the Client's patience (10 s): the connection made to it
 * spends its handshake (CLIENT SETNAME, then the ready check's INFO: two round trips) in
 * ioredis's status `connect`. A call made then, with Redis answering, waits that handshake and
 * runs. Before: the outage guard took every handshake past the patience for a stuck one (a
 * server that accepts and never answers) and refused each call made in it at once, "connected,
 * no answer to the handshake": over a link
 * of 300 ms each way, every call of the 1.2 s handshake (225 submits at one every 5 ms); on a
 * local one, a call made in its fraction of a millisecond.
 */
import type { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { CLIENT_PATIENCE_MS } from '../src/client.js';
import { Client } from '../src/index.js';
import { startRedis } from './helpers/redis-server.js';
import { startProxy } from './helpers/tcp-proxy.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

/** a Client's connection: its status, and its events */
const connection = (c: Client) => (c as unknown as { redis: EventEmitter & { status: string } }).redis;

describe('a Client reconnecting after an outage longer than its patience', () => {
  for (const [what, latencyMs] of [
    ['a Redis over a link of 30 ms each way', 30],
    ['a Redis over a slow link (150 ms each way)', 150],
  ] as const) {
    it(`${what}: the calls made during the new connection's handshake wait for it and run, each once`, async () => {
      const server = await startRedis({ appendonly: true });
      cleanup.push(() => server.stop());
      const proxy = await startProxy('127.0.0.1', server.port);
      cleanup.push(() => proxy.close());
      const c = new Client({ redis: server.options({ port: proxy.port }) });
      cleanup.push(() => c.close());
      await c.submit('x', 0, { id: 'before' });
      const conn = connection(c);

      await server.kill();
      await new Promise((r) => setTimeout(r, CLIENT_PATIENCE_MS + 1000));
      // (while away, past the patience: refused at once)
      await expect(c.submit('x', 1, { id: 'while-away' })).rejects.toThrow(/nothing was sent/);
      proxy.delay(latencyMs);

      // the calls made from the moment the connection to the Redis back is made until it is
      // ready (a connection the proxy made while Redis was still away, and closed, does not count:
      // its calls are left out)
      type Call = { id: string; outcome: Promise<{ ms: number; error?: unknown }> };
      let calls: Call[] = [];
      const left: Call[] = [];
      const submit = (id: string) => {
        const t0 = performance.now();
        calls.push({
          id,
          outcome: c.submit('x', { id }, { id }).then(
            () => ({ ms: performance.now() - t0 }),
            (error: unknown) => ({ ms: performance.now() - t0, error }),
          ),
        });
      };
      const ready = new Promise<void>((resolve) => {
        const connected = () => {
          if (conn.status !== 'connect') return;
          left.push(...calls);
          calls = [];
          submit(`at-connect-${left.length}`);
          const every = setInterval(() => {
            if (conn.status === 'connect') return submit(`in-handshake-${left.length}-${calls.length}`);
            clearInterval(every);
            if (conn.status !== 'ready') return;
            conn.off('connect', connected);
            resolve();
          }, 20);
        };
        conn.on('connect', connected);
      });
      await server.start();
      await ready;
      submit('once-ready');

      expect(calls.length).toBeGreaterThan(latencyMs > 100 ? 10 : 3);
      for (const { id, outcome } of calls) {
        const r = await outcome;
        expect(r.error, id).toBeUndefined();
        expect(r.ms, id).toBeLessThan(CLIENT_PATIENCE_MS);
      }
      await Promise.all(left.map((call) => call.outcome));
      const tasks = await Promise.all(calls.map(({ id }) => c.get(id)));
      calls.forEach(({ id }, i) => expect(tasks[i], id).toMatchObject({ id, state: 'QUEUED' }));
      expect(await c.get('while-away')).toBeNull();
    }, 60_000);
  }
});
