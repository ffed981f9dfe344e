/**
 * A stop tells a task queued again after a claim (between two attempts: cancelled) from one no
 * claim has taken yet (`waiting`: nothing done) by its hash's `claims` and `attempt`; a count
 * edited into junk reads as none, as claim.lua reads it (lib/fields.lua `int`: a claim counts
 * from 0 again). Read with a bare `tonumber` (in stop.lua, before the stop was cancel.lua's),
 * "inf" (and "1e999") was a number above 0: a task never claimed whose count was edited so was
 * cancelled by a stop, where any other junk left it queued.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe('a stop of a never-claimed task whose count is edited into junk', () => {
  for (const [field, junk] of [
    ['claims', 'soon'],
    ['claims', 'inf'],
    ['attempt', '1e999'],
  ] as const) {
    it(`${field} = ${junk}: read as none, the stop does nothing (waiting)`, async () => {
      const o = server.options();
      const c = new Client({ redis: o });
      cleanup.push(() => c.close());
      // (a group: placed in its function's queue at its submit, its hash QUEUED)
      const id = await c.submit('job', null, { group: 'g' });
      await redis.hset(`${o.keyPrefix}task-${id}`, field, junk);
      expect(await c.get(id)).toMatchObject({ state: 'QUEUED' });
      expect(await c.control(id, 'stop')).toBe('waiting');
      expect(await c.get(id)).toMatchObject({ state: 'QUEUED' });
    });
  }
});
