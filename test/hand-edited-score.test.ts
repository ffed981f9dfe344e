/**
 * A task hash's `score` (or, for a hash without a place, `priority` or `start`) edited by hand
 * into "nan": Lua's tonumber reads it as NaN (strtod), and the ZADD that puts the task in its
 * function's queue raises ("value is not a valid float") after the script has taken the task out
 * of where it was and written it QUEUED (a script keeps what it wrote before it raised). The task
 * is then QUEUED in no queue, for good: requeue.lua (a dead worker's task: out of the lease index)
 * and promote (lib/delayed.lua, a delayed task: out of Q:delayed). The failed sweep also sends the
 * monitor to probing and a grace of one taskTimeout, in which nothing is requeued. Numbers are
 * read as finite ones (lib/fields.lua `num`). And a delayed hash without its `function` field was
 * taken out of Q:delayed and left DELAYED: its entry names the function.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Monitor, Worker } from '../src/index.js';
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

/** a RUNNING task whose worker died long ago, as claim.lua writes it */
async function deadClaim(keys: ReturnType<typeof keysFor>, id: string, update: number, fields: Record<string, string> = {}) {
  await redis.hset(keys.task(id), {
    state: 'RUNNING',
    update: String(update),
    start: '1',
    attempt: '1',
    claims: '1',
    lease: '1:gone:1',
    worker: 'gone:1',
    function: 'f',
    member: `0000000000000${update}:${id}`,
    score: String(update),
    data: JSON.stringify({ id, function: 'f' }),
    ...fields,
  });
  await redis.zadd(keys.leases, update, id);
  await redis.sadd(keys.taskSet, id);
}

describe('a task hash whose score was edited into "nan"', () => {
  it('monitor: a stale task whose score is "nan" is not left QUEUED in no queue, and the stale tasks after it are requeued', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    await deadClaim(keys, 'x', 1, { score: 'nan' });
    await deadClaim(keys, 'y', 2);
    const m = new Monitor({ redis: o, logger: quiet, taskTimeout: 500, checkTaskInterval: 100 });
    cleanup.push(() => m.stop());
    await m.start();
    await until(async () => (await redis.hget(keys.task('y'), 'state')) === 'QUEUED', 'y requeued', 5000).catch(() => {});
    expect(await redis.hget(keys.task('y'), 'state')).toBe('QUEUED');
    // x is somewhere: still watched (lease index), queued in its function's queue, or parked
    const x = await redis.hmget(keys.task('x'), 'state', 'member');
    const watched = (await redis.zscore(keys.leases, 'x')) !== null;
    const placed = (await redis.zscore(keys.groupQueue('f', ''), x[1]!)) !== null;
    expect({ state: x[0], somewhere: watched || placed || x[0] === 'END' }).toEqual({ state: x[0], somewhere: true });
  });

  it('claim: a DELAYED task whose score is "nan" is not left QUEUED in no queue when it falls due', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    // a retry waiting its backoff (it keeps its place: member and score), its score edited
    const id = await c.submit('g', null, { delay: 200 });
    await redis.hset(keys.task(id), 'member', `00000000000001:${id}`, 'score', 'nan');
    const w = new Worker({ port: 0, redis: o, logger: quiet, fetchTaskInterval: 200 });
    const ran: string[] = [];
    w.addTaskFunction('echo', (t) => void ran.push(t.id));
    cleanup.push(() => w.stop());
    await w.start();
    await new Promise((r) => setTimeout(r, 400));
    const other = await c.submit('echo', null);
    await until(() => ran.includes(other), 'another task runs', 5000).catch(() => {});
    expect(ran).toEqual([other]);
    // the delayed task fell due: it is somewhere (still delayed, in its function's queue, or parked)
    const h = await redis.hmget(keys.task(id), 'state', 'member');
    const delayed = (await redis.zscore(keys.placedDelayed, h[1]!)) !== null;
    const placed = (await redis.zscore(keys.groupQueue('g', ''), h[1]!)) !== null;
    expect({ state: h[0], somewhere: delayed || placed || h[0] === 'END' }).toEqual({ state: h[0], somewhere: true });
  });

  it('claim: a DELAYED task whose function field was removed by hand is promoted for its entry\'s function, and runs', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('echo', 'later', { delay: 200 });
    await redis.hdel(keys.task(id), 'function');
    const w = new Worker({ port: 0, redis: o, logger: quiet, fetchTaskInterval: 200 });
    w.addTaskFunction('echo', (t) => t.data);
    cleanup.push(() => w.stop());
    await w.start();
    expect(await c.wait(id, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', result: 'later' });
  });
});
