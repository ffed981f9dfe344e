/**
 * Ids are the caller's: one may look like a place's member (`<14 digits>:<rest>`). In
 * `new-task:delayed` (the layout before `new-task:delayed:placed`) a task is held under its bare
 * id (a swarm upgraded with tasks still delayed, or one whose worker of the version before
 * retried it). Such an entry names the task of that whole id, never the task named by its tail:
 * each task is promoted when it falls due, and not before.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe('an id that looks like a member, held under its bare id', () => {
  it('is promoted and runs when due; the task its tail names stays DELAYED until its own due time', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    // `x`, due in a minute
    const x = await c.submit('echo', { which: 'x' }, { id: 'x', delay: 60_000 });
    // `00000000000001:x`, due at once, held as the layout before held it: under its id, no place
    const odd = await c.submit('echo', { which: 'odd' }, { id: '00000000000001:x', delay: 200 });
    const member = (await redis.hget(keys.task(odd), 'member'))!;
    const due = (await redis.zscore(keys.placedDelayed, member))!;
    expect(due).not.toBeNull();
    await redis.multi().zrem(keys.placedDelayed, member).zadd(keys.delayed, due, odd).hdel(keys.task(odd), 'member', 'score').exec();

    const ran: string[] = [];
    const w = new Worker({ port: 0, redis: o, logger: quiet, concurrency: 1 });
    w.addTaskFunction('echo', (t) => void ran.push(t.id));
    cleanup.push(() => w.stop());
    await w.start();
    const end = await c.wait(odd, { timeout: 4000 }).catch((e: Error) => e.name);
    expect({ ran, odd: (await c.get(odd))?.state, x: (await c.get(x))?.state }).toEqual({ ran: [odd], odd: 'END', x: 'DELAYED' });
    expect(end).toMatchObject({ outcome: 'succeeded' });
    expect(await redis.hget(keys.counts, 'd:echo'), 'd:echo: x alone').toBe('1');
  }, 20_000);
});
