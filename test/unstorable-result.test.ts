/**
 * A task function that returns what JSON cannot carry (a cycle, a BigInt, a function, a value
 * whose toJSON gives undefined or a function, NaN or an infinity): its result cannot be stored, so the attempt
 * fails with a NonRetryableError saying why, whatever attempts are left; it never ends
 * succeeded with the value's String() form, nor with null.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Worker } from '../src/index.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s: RedisServer, _r: Redis) => {
  server = s;
});

describe('a result JSON cannot carry', () => {
  it('fails the attempt with a NonRetryableError naming why, not retried', async () => {
    const o = server.options();
    const w = new Worker({ port: 0, redis: o });
    const c = new Client({ redis: o });
    cleanup.push(() => c.close(), () => w.stop());
    const runs = new Map<string, number>();
    const results: Record<string, () => unknown> = {
      circular: () => {
        const o: Record<string, unknown> = {};
        o.self = o;
        return o;
      },
      bigint: () => 10n,
      fn: () => () => 1,
      // (JSON.stringify gives nothing at all for these: the value would end as null)
      toJsonUndefined: () => ({ rows: [1, 2, 3], toJSON: () => undefined }),
      toJsonFunction: () => ({ toJSON: () => () => 1 }),
      // (JSON writes it as null)
      nan: () => NaN,
    };
    for (const [name, result] of Object.entries(results)) {
      w.addTaskFunction(name, async (task) => {
        runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
        return result();
      });
    }
    await w.start();
    const retried = { attempts: 3, backoff: { type: 'fixed' as const, delay: 10 } };
    const ids = await Promise.all(Object.keys(results).map((fn) => c.submit(fn, null, retried)));
    const ended = await Promise.all(ids.map((id) => c.wait(id, { timeout: 10_000 })));
    for (const [i, t] of ended.entries()) {
      expect(t).toMatchObject({ state: 'END', outcome: 'failed', attempt: 1, error: { name: 'NonRetryableError', code: 'ERR_NON_RETRYABLE' } });
      expect(t.result).toBeUndefined();
      expect(runs.get(ids[i]!)).toBe(1);
    }
    expect(ended[0]!.error!.message).toMatch(/returned a result JSON cannot carry \(Converting circular structure to JSON/);
    expect(ended[1]!.error!.message).toMatch(/returned a result JSON cannot carry \(Do not know how to serialize a BigInt\)/);
    expect(ended[2]!.error!.message).toMatch(/returned a function, which JSON cannot carry/);
    expect(ended[3]!.error!.message).toMatch(/returned a value whose JSON is nothing/);
    expect(ended[4]!.error!.message).toMatch(/returned a value whose JSON is nothing/);
    expect(ended[5]!.error!.message).toMatch(/returned the number NaN, which JSON cannot carry/);
  });

  it('a result JSON can carry, or none, still succeeds', async () => {
    const o = server.options();
    const w = new Worker({ port: 0, redis: o });
    const c = new Client({ redis: o });
    cleanup.push(() => c.close(), () => w.stop());
    w.addTaskFunction('nothing', async () => undefined);
    w.addTaskFunction('date', async () => new Date(0));
    await w.start();
    expect(await c.wait(await c.submit('nothing'), { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', result: null });
    expect(await c.wait(await c.submit('date'), { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', result: '1970-01-01T00:00:00.000Z' });
  });
});
