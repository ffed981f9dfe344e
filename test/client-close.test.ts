/**
 * Found in the review of issue 7 (class: nothing may hang a stop). Client.close() quits both connections and
 * awaits them. The subscriber connection retries a command forever (maxRetriesPerRequest: null,
 * so a SUBSCRIBE waits out an outage): while Redis is unreachable its QUIT waits too, and
 * close() never resolves. The CLI bounds it (within 1 s); a library caller's shutdown does not.
 * The test failed before the fix (close() hung).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, StateError } from '../src/index.js';
import { within } from '../src/within.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

describe('Client.close while Redis is unreachable', () => {
  it('resolves within a few seconds', { timeout: 30_000 }, async () => {
    const server = await startRedis();
    const c = new Client({ redis: server.options() });
    try {
      const waiting = c.wait('never', { timeout: 2000 }).catch(() => {}); // the subscriber connection exists now
      await new Promise((r) => setTimeout(r, 300));
      await server.kill();
      await waiting; // the caller's wait timed out; now it shuts down
      const closed = c.close().then(
        () => 'closed',
        (e: unknown) => `rejected: ${String(e)}`,
      );
      const outcome = (await within(15_000, closed)) ?? 'pending after 15 s';
      // what the review saw: 'pending after 15 s'
      expect(outcome).toBe('closed');
    } finally {
      await server.stop();
    }
  });
});

describe('a closed Client', () => {
  it('sends the submits made before close(), and refuses later calls with a StateError saying it is closed', async () => {
    const server = await startRedis();
    const c = new Client({ redis: server.options() });
    try {
      const before = c.submit('f', 1);
      await c.close();
      const id = await before;
      expect(typeof id).toBe('string');
      for (const call of [() => c.submit('f', 2), () => c.submitMany([{ fn: 'f' }]), () => c.get(id), () => c.cancel(id), () => c.stats(), () => c.wait(id, { timeout: 100 })]) {
        await expect(call()).rejects.toThrow(StateError);
      }
      await expect(c.get(id)).rejects.toThrow(/this client is closed/);
      expect(() => c.subscribe(id, () => {})).toThrow(StateError);
    } finally {
      await server.stop();
    }
  });
});

describe('calls made just before close()', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  }, 30_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('a get made before close() reads the task, as a cancel made before it cancels it', async () => {
    const c = new Client({ redis: { ...server.options(), keyPrefix: '{rbc}:' } });
    await c.submit('f', 0, { id: 'a' });
    await c.submit('f', 0, { id: 'b' });
    const got = c.get('a').then((t) => t?.state ?? 'none', (e: Error) => `${e.name}: ${e.message}`);
    const stats = c.stats().then((s) => s.queued, (e: Error) => `${e.name}: ${e.message}`);
    const cancelled = c.cancel('b').catch((e: Error) => `${e.name}: ${e.message}`);
    await c.close();
    expect([await got, await stats, await cancelled]).toEqual(['QUEUED', 2, 'cancelled']);
  }, 30_000);

  it("a client's first call, a get, made before close() reads the task", async () => {
    const w = new Client({ redis: { ...server.options(), keyPrefix: '{rbc2}:' } });
    await w.submit('f', 0, { id: 'a' });
    await w.close();
    const c = new Client({ redis: { ...server.options(), keyPrefix: '{rbc2}:' } });
    const got = c.get('a').then((t) => t?.state ?? 'none', (e: Error) => `${e.name}: ${e.message}`);
    await c.close();
    expect(await got).toBe('QUEUED');
  }, 30_000);
});
