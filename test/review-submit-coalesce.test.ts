/**
 * Found in the review of Client.submit's coalescing (the submits of one tick in one submit.lua
 * call, mode `each`). Each test failed before its fix:
 *
 * - A submit, then a submitMany made after it in the same tick (neither awaited): the submit
 *   waited for the end of the tick, submitMany went out at once, so the producer's later task
 *   was queued, and claimed, first. Before coalescing, the submit went first.
 * - Submits of one tick over several partitions are one script per partition: when one
 *   partition's call failed, every submit of the tick rejected with its error, those whose own
 *   partition had queued them included (on a Cluster: a shard that is down, or mid-failover).
 *   A caller told "failed" retries, and the task runs twice.
 * - So within one partition: a script that raised half-way kept what it wrote before (no
 *   rollback), and every submit of the call rejected, those it had queued included. Sending
 *   each again alone would find the one that raised half-written (its hash, with its entry, and
 *   not in its queue) and take it for its own; submit.lua's `each` mode instead catches a
 *   task's raising writes and answers that task alone with the error.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client } from '../src/index.js';
import { partitionOf, partitionPrefix } from '../src/partitions.js';
import { keysFor } from './properties/harness.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

function client(extra: Record<string, unknown> = {}) {
  const o = { ...server.options(), ...extra } as ReturnType<RedisServer['options']>;
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return { c, prefix: o.keyPrefix };
}

/** the ids on new-task, oldest (next to be claimed) first */
async function queuedIds(keyPrefix: string): Promise<string[]> {
  const entries = await redis.lrange(keysFor(keyPrefix).newQueue, 0, -1);
  return entries
    .reverse()
    .filter((e) => e !== 'wake')
    .map((e) => (JSON.parse(e) as { id: string }).id);
}

/** an id of the form `<stem>-<n>` in partition `p` of `n` */
function idIn(stem: string, p: number, n: number): string {
  for (let i = 0; ; i++) if (partitionOf(`${stem}-${i}`, n) === p) return `${stem}-${i}`;
}

describe('coalesced submits, reviewed', () => {
  it('a submit, then a submitMany in the same tick: queued in the order they were made', async () => {
    for (const warm of [false, true]) {
      const { c, prefix } = client();
      if (warm) await c.get('warm-up'); // the server check done: only the tick decides
      const first = c.submit('f', 1, { id: 'first' });
      const second = c.submitMany([{ fn: 'f', data: 2, options: { id: 'second' } }]);
      await Promise.all([first, second]);
      expect(await queuedIds(prefix), warm ? 'warm client' : 'first calls').toEqual(['first', 'second']);
    }
  });

  it("one partition's call failing rejects only the submits of that partition; the others resolve, queued", async () => {
    const n = 4;
    const { c, prefix } = client({ keyPrefix: '{review-part}:', partitions: n });
    await c.get('warm-up');
    const good = idIn('good', 0, n);
    const bad = idIn('bad', 1, n);
    // partition 1 cannot take a submit: its queued set is a string (submit.lua's SISMEMBER fails)
    await redis.set(keysFor(partitionPrefix(prefix, 1, n)).queued, 'not a set');
    const [g, b] = await Promise.allSettled([c.submit('f', 1, { id: good }), c.submit('f', 2, { id: bad })]);
    expect(b.status).toBe('rejected');
    expect(await queuedIds(partitionPrefix(prefix, 0, n))).toEqual([good]);
    // what the review saw: rejected with partition 1's WRONGTYPE, though it was queued
    expect(g).toEqual({ status: 'fulfilled', value: good });
  });

  it('a submit that makes the script raise half-way: a submit it had queued before does not reject', async () => {
    const { c, prefix } = client();
    await c.get('warm-up');
    // function g's queue (group '') is a string: submit.lua's ZADD for a task of g placed at once raises
    await redis.set(`${keysFor(prefix).newQueue}:f:1:g:g:0:`, 'not a zset');
    const settled = await Promise.allSettled([c.submit('f', 1, { id: 'w1' }), c.submit('g', 2, { id: 'w2', priority: 1 }), c.submit('f', 3, { id: 'w3' })]);
    expect(settled[1]!.status).toBe('rejected');
    const queued = await queuedIds(prefix);
    expect(queued[0]).toBe('w1');
    // w3, after the one that raised: resolved and queued, or rejected and not queued
    expect(settled[2]!.status === 'fulfilled').toBe(queued.includes('w3'));
    // what the review saw: rejected with WRONGTYPE, though queued
    expect(settled[0]).toEqual({ status: 'fulfilled', value: 'w1' });
  });
});
