/**
 * Client.cancel of a running task marks it `cancelling` and publishes a stop on its control
 * channel. Pub/sub keeps nothing: a stop published while the worker's control subscription is
 * being made again (its subscriber connection dropped, and ioredis resubscribing) reached no one,
 * and the task ran to its end though cancel had answered that it was stopping. The worker's
 * heartbeat reads the mark (renew.lua) and stops it.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

describe('a running task cancelled while the worker hears no control message', () => {
  it('is stopped at its next heartbeat: it ends stopped, its function aborted, not run to its end', async () => {
    const o = server.options();
    let aborted = 0;
    const w = new Worker({ port: 0, redis: o, heartbeatInterval: 200 });
    w.addTaskFunction('long', (t) =>
      new Promise((_, reject) => {
        const timer = setTimeout(() => reject(new Error('ran to its end')), 30_000);
        t.signal.addEventListener('abort', () => {
          aborted++;
          clearTimeout(timer);
          reject(new Error('aborted'));
        });
      }),
    );
    const c = new Client({ redis: o });
    const admin = new Redis(server.port);
    cleanup.push(async () => admin.disconnect(), () => c.close(), () => w.stop());
    await w.start();
    const id = await c.submit('long');
    await until(async () => (await c.get(id))?.state === 'RUNNING', 'the task running');
    await until(async () => Number(await admin.call('PUBSUB', 'NUMPAT')) >= 1, "the worker's control subscription");
    // every subscriber connection dropped: the worker's comes back within ~50 ms, resubscribed;
    // the cancel's stop is published before that
    await admin.client('KILL', 'TYPE', 'pubsub');
    expect(await c.cancel(id)).toBe('stopping');
    expect(await c.wait(id, { timeout: 5000 })).toMatchObject({ outcome: 'stopped' });
    expect(aborted).toBe(1);
  }, 30_000);
});
