/**
 * A QUEUED task whose `data` was removed by hand: the claim that takes its turn pops it from its
 * function's queue and, finding no entry to run, drops it there (claim.lua, step 2): the task
 * stays QUEUED, in no queue, for good. A RUNNING task in that state is parked `unrunnable` by
 * the monitor (test/hand-edited-hash.test.ts); a queued one should be parked too, not stranded.
 */
import { expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

it('a QUEUED task whose data was removed by hand is parked by the claim that takes it, not left QUEUED in no queue; its dead letter is not retried', async () => {
  const o = server.options();
  const keys = keysFor(o.keyPrefix);
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  // placed at once (a group): QUEUED in its function's queue
  const id = await c.submit('f', null, { group: 'g' });
  await redis.hdel(keys.task(id), 'data');
  const w = new Worker({ port: 0, redis: o, logger: quiet, fetchTaskInterval: 100 });
  w.addTaskFunction('f', () => 'ran');
  cleanup.push(() => w.stop());
  await w.start();
  await until(async () => (await redis.zcard(keys.groupQueue('f', 'g'))) === 0, 'taken from its queue', 5000);
  await new Promise((r) => setTimeout(r, 300));
  const h = await redis.hmget(keys.task(id), 'state', 'parked');
  expect({ state: h[0], parked: h[1] }).toEqual({ state: 'END', parked: 'unrunnable' });

  // Its dead letter holds no entry. Retried, the empty entry was judged junk (no id) and parked
  // apart from the task, which retry-dead.lua had set QUEUED: in no queue, its wait never
  // ending. It is refused, saying why, and left as it is.
  const letter = (await c.deadLetters()).find((d) => d.id === id)!;
  await expect(c.retryDead(letter)).rejects.toThrow(/holds no entry .*nothing to queue again; purge it/);
  expect(await redis.hmget(keys.task(id), 'state', 'parked')).toEqual(['END', 'unrunnable']);
  expect((await c.deadLetters()).map((d) => d.key)).toContain(letter.key);
});
