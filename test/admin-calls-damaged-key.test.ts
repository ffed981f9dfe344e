/**
 * A Client call that finds a key it would write damaged (written by hand as another type) is
 * refused whole, before its first write: what it was asked to change is left as it was, and the
 * same call succeeds once the key is mended. Before, `cancel` of a keyed task whose dedupe hash
 * was damaged wrote the task END and then failed (its key still held, its end never told), and
 * `setLimit` of a group whose held-back set was damaged wrote the limit and then failed.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client } from '../src/index.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let admin: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  admin = r;
});
let n = 0;

function client(): { c: Client; prefix: string } {
  const prefix = `damaged-${++n}:`;
  const c = new Client({ redis: { ...server.options(), keyPrefix: prefix } });
  cleanup.push(() => c.close());
  return { c, prefix };
}

describe('cancel of a keyed task whose dedupe hash was written by hand as another type', () => {
  for (const how of ['queued', 'delayed'] as const) {
    it(`(${how}) is refused, the task left ${how.toUpperCase()} and its key held; once mended, it cancels`, async () => {
      const { c, prefix } = client();
      const id = await c.submit('nobody-serves-this', 1, { key: 'k', ...(how === 'delayed' ? { delay: 60_000 } : { group: 'g' }) });
      const keys = `${prefix}new-task:keys`;
      const holder = await admin.hgetall(keys);
      await admin.del(keys);
      await admin.set(keys, 'not a hash');
      await expect(c.cancel(id)).rejects.toThrow(/WRONGTYPE/);
      expect(await c.get(id)).toMatchObject({ state: how.toUpperCase() });
      expect(await admin.lrange(`${prefix}tasks:ended`, 0, -1)).toEqual([]);
      await admin.del(keys);
      await admin.hset(keys, holder);
      expect(await c.cancel(id)).toBe('cancelled');
      expect(await c.get(id)).toMatchObject({ state: 'END', outcome: 'cancelled' });
      expect(await admin.hgetall(keys)).toEqual({});
    });
  }
});

describe('setLimit of a group whose held-back set was written by hand as another type', () => {
  it('is refused, no limit written; once mended, it is set', async () => {
    const { c, prefix } = client();
    const blockedIn = `${prefix}new-task:g:3:g-1:blocked-in`;
    await admin.set(blockedIn, 'not a set');
    await expect(c.setLimit({ group: 'g-1' }, { concurrency: 2 })).rejects.toThrow(/WRONGTYPE/);
    expect(await c.limits()).toEqual([]);
    await admin.del(blockedIn);
    await c.setLimit({ group: 'g-1' }, { concurrency: 2 });
    expect(await c.limits()).toMatchObject([{ group: 'g-1', concurrency: 2 }]);
  });
});
