/**
 * A submitMany whose list holds the same task twice, written but not acknowledged by the
 * replicas redis.durable asks for, rejects with a NotDurableError whose `taskIds` are the ids the
 * call would have answered: one per place given, the twin's at each of its places, as a
 * PartlySubmittedError's `ids` are (they were one per task written, so the places after a twin
 * were named by the ids of the tasks before them).
 */
import { describe, expect, it } from 'vitest';
import { Client, NotDurableError } from '../src/index.js';
import { redisPerFile } from './helpers/suite.js';
import type { RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
const cleanup = redisPerFile((s: RedisServer) => {
  server = s;
});

describe('a submitMany with twins, not acknowledged by the replicas', () => {
  it("names the answer's ids in the NotDurableError, one per place given", async () => {
    // (no replica at all: the WAIT answers 0 within durableTimeout)
    const c = new Client({ redis: { ...server.options(), durable: 1, durableTimeout: 100 } });
    cleanup.push(() => c.close());
    const twin = { fn: 'f', data: 1, options: { id: 'twin' } };
    const err = await c.submitMany([twin, { fn: 'f', data: 2, options: { id: 'other' } }, twin, { fn: 'f', data: 3, options: { id: 'last' } }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotDurableError);
    expect((err as NotDurableError).taskIds).toEqual(['twin', 'other', 'twin', 'last']);
  });
});
