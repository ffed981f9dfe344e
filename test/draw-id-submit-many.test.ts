/**
 * A submitMany of drawn ids submitted again (a lost reply, a retry of the list) is the same
 * submission, as submit's is: it gets its ids back and queues nothing twice. Over several
 * partitions or several batches, the ids given are read before the writes, and one found taken
 * refused the list as a duplicate even when Redis held that very entry; within one partition and
 * one batch it was accepted. Another task under a taken id is still refused, and nothing written.
 */
import { describe, expect, it } from 'vitest';
import { Client, DuplicateTaskError, type SubmitOptions } from '../src/index.js';
import { partitionOf } from '../src/partitions.js';
import { quiet } from './helpers/order.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

let swarms = 0;
function client(partitions: number) {
  const c = new Client({ redis: server.options({ partitions, keyPrefix: `{many-${++swarms}}:` }), logger: quiet });
  cleanup.push(() => c.close());
  return c;
}

async function waiting(c: Client): Promise<number> {
  const s = await c.stats();
  return s.queued + (s.functions.f?.queued ?? 0) + (s.functions.f?.delayed ?? 0);
}

describe('a submitMany of drawn ids, submitted again', () => {
  it('over several partitions: the same ids, each task queued once', async () => {
    const c = client(4);
    const list: { fn: string; data: unknown; options: SubmitOptions & { id: string } }[] = Array.from({ length: 8 }, (_, i) => ({
      fn: 'f',
      data: i,
      options: { id: c.drawId({ group: `g-${i}`, key: `k-${i}` }), group: `g-${i}`, key: `k-${i}` },
    }));
    list.push({ fn: 'f', data: 'later', options: { id: c.drawId(), delay: 60_000 } });
    expect(new Set(list.map((t) => partitionOf(t.options.id, 4))).size).toBeGreaterThan(1);
    const ids = await c.submitMany(list);
    expect(ids).toEqual(list.map((t) => t.options.id));
    expect(await c.submitMany(list)).toEqual(ids);
    expect(await waiting(c)).toBe(list.length);
  });

  it('over several batches: the same ids, each task queued once, their entries read a batch at a time', async () => {
    const c = client(1);
    const list = Array.from({ length: 1_500 }, (_, i) => ({ fn: 'f', data: i, options: { id: c.drawId() } }));
    const ids = await c.submitMany(list);
    const redis = server.client();
    const lposCalls = async () => Number(/cmdstat_lpos:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
    const before = await lposCalls();
    // (the writes the client's connection makes, each a round trip's start)
    const stream = (c as unknown as { redis: { stream: { write: (...a: unknown[]) => boolean } } }).redis.stream;
    const write = stream.write;
    let writes = 0;
    stream.write = function (this: unknown, ...a: unknown[]) {
      writes++;
      return write.apply(this, a);
    };
    try {
      expect(await c.submitMany(list)).toEqual(ids);
    } finally {
      stream.write = write;
    }
    expect(await waiting(c)).toBe(list.length);
    // each entry found taken is read twice, before the writes and by the batch whose write it
    // refused, in a few round trips: once, each read was a round trip of its own (3,000)
    expect((await lposCalls()) - before).toBe(2 * list.length);
    expect(writes).toBeLessThanOrEqual(8);
  });

  it('with another task under one of its ids: refused, nothing written', async () => {
    const c = client(4);
    const taken = c.drawId();
    await c.submit('f', 'first', { id: taken });
    const others = Array.from({ length: 6 }, (_, i) => ({ fn: 'f', data: i, options: { id: c.drawId() } }));
    const err = await c.submitMany([...others, { fn: 'f', data: 'another', options: { id: taken } }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DuplicateTaskError);
    expect(await waiting(c)).toBe(1);
  });
});
